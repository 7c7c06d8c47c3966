"""The browser side: the chat widget (widget.js, served as is) and what serving it needs."""
