"""The web console's machinery: sessions and CSRF (``session``), page rendering (``pages``),
error pages (``routing``) and its static files (``assets``). The pages are in
``api.routes.console``."""
