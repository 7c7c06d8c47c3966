"""Exports of a period's conversations and messages, streamed as JSON or CSV.

CSV has one row per message (the conversation's fields repeated) and is written by the ``csv``
module (quoting, embedded newlines). A cell a spreadsheet would read as a formula (starting
with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is prefixed with ``'``: what a
visitor typed must not run in the support team's spreadsheet (CSV injection).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any, Literal

from sqlalchemy.engine import Engine

from kb.db.analytics import Period
from kb.db.transcripts import transcripts

ExportFormat = Literal["csv", "json"]
CSV_COLUMNS = (
    "conversation_id",
    "user_id",
    "conversation_created_at",
    "state",
    "message_id",
    "role",
    "created_at",
    "text",
    "standalone_question",
    "grounded",
    "model",
    "latency_ms",
    "cited_documents",
    "feedback",
    "feedback_comment",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    """A CSV cell that no spreadsheet runs as a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = value if isinstance(value, str) else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


class ConversationExporter:
    """Streams a knowledge base's conversations of a period."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def stream(self, kb_id: str, period: Period, format_: ExportFormat) -> Iterator[str]:
        """The export as chunks of text."""
        return self.csv(kb_id, period) if format_ == "csv" else self.json(kb_id, period)

    def json(self, kb_id: str, period: Period) -> Iterator[str]:
        """``{"kb_id", "from", "to", "conversations": [...]}``, one conversation per chunk."""
        head = {"kb_id": kb_id, "from": period.start.isoformat(), "to": period.end.isoformat()}
        yield json.dumps(head)[:-1] + ', "conversations": ['
        separator = ""
        for transcript in transcripts(self._engine, kb_id, period):
            body = {**transcript.conversation, "messages": transcript.messages}
            yield separator + json.dumps(body, ensure_ascii=False)
            separator = ", "
        yield "]}\n"

    def csv(self, kb_id: str, period: Period) -> Iterator[str]:
        """A header line, then one line per message, one conversation per chunk."""
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        for transcript in transcripts(self._engine, kb_id, period):
            conversation = transcript.conversation
            for message in transcript.messages:
                feedback = message["feedback"] or {}
                writer.writerow(
                    safe_cell(v)
                    for v in (
                        conversation["id"],
                        conversation["user_id"],
                        conversation["created_at"],
                        conversation["state"],
                        message["id"],
                        message["role"],
                        message["created_at"],
                        message["text"],
                        message["standalone_question"],
                        message["grounded"],
                        message["model"],
                        message["latency_ms"],
                        " ".join(message["cited_documents"]),
                        feedback.get("rating"),
                        feedback.get("comment"),
                    )
                )
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        if buffer.getvalue():
            yield buffer.getvalue()
