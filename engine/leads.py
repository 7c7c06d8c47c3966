"""Lead capture: a visitor's contact details recorded in a conversation, listed per knowledge
base (the CRM path)."""

from __future__ import annotations

from kb.db.conversations import ConversationRepository
from kb.db.leads import Lead, LeadIn, LeadRepository
from kb.db.registry import Registry


class LeadService:
    """Records leads of conversations and lists each knowledge base's leads."""

    def __init__(
        self, leads: LeadRepository, conversations: ConversationRepository, registry: Registry
    ) -> None:
        self._leads = leads
        self._conversations = conversations
        self._registry = registry

    def record(self, conversation_id: str, lead: LeadIn) -> Lead:
        """Store a lead of the conversation (ConversationNotFound if there is none) and publish
        ``lead.created``."""
        return self._leads.record(self._conversations.get(conversation_id), lead)

    def list(self, kb_id: str, limit: int = 50, offset: int = 0) -> tuple[list[Lead], int]:
        """A page of the knowledge base's leads, newest first, and their total
        (KnowledgeBaseNotFound if there is no such knowledge base)."""
        self._registry.get_kb(kb_id, counts=False)
        return self._leads.list(kb_id, limit, offset)
