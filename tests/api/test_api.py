"""The HTTP API in-process: knowledge bases, uploads of every format, search and answers."""

from __future__ import annotations

import io
import logging
import os
import sys
import threading
import time

import docx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.container import Container
from tests.support.pdf_factory import make_pdf

HTML = b"""<!doctype html><html><head><title>Returns policy</title>
<script>var tracking = "secret-tracker";</script><style>body{color:red}</style></head>
<body><nav>Home | Products | Login</nav><main><h1>Returns</h1>
<p>Customers may return any product within 30 days of delivery for a full refund.</p></main>
<footer>Copyright ACME</footer></body></html>"""


def _kb(client: TestClient, name: str = "handbook") -> str:
    response = client.post("/v1/kbs", json={"name": name})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _upload(client: TestClient, kb_id: str, name: str, data: bytes, **form: str) -> dict:
    response = client.post(f"/v1/kbs/{kb_id}/documents", files={"file": (name, data)}, data=form)
    assert response.status_code in (200, 201), response.text
    return dict(response.json())


def test_knowledge_base_crud(client: TestClient) -> None:
    kb_id = _kb(client, "one")
    _kb(client, "two")
    listing = client.get("/v1/kbs", params={"limit": 1}).json()
    assert listing["total"] == 2 and [k["name"] for k in listing["items"]] == ["one"]
    assert client.get(f"/v1/kbs/{kb_id}").json()["document_count"] == 0
    patched = client.patch(f"/v1/kbs/{kb_id}", json={"description": "Staff handbook"})
    assert patched.json()["description"] == "Staff handbook"
    assert client.post("/v1/kbs", json={"name": "two"}).status_code == 409
    assert client.delete(f"/v1/kbs/{kb_id}").status_code == 204
    assert client.get(f"/v1/kbs/{kb_id}").status_code == 404
    assert client.get("/v1/kbs").json()["total"] == 1


def test_upload_each_format_and_answer_from_it(client: TestClient) -> None:
    kb_id = _kb(client)
    document = docx.Document()
    document.add_heading("Holidays", level=1)
    document.add_paragraph("Every employee gets 28 days of paid holiday per year.")
    buffer = io.BytesIO()
    document.save(buffer)

    uploads = {
        "returns.html": (HTML, "text/html", "Returns policy"),
        "security.md": (
            b"# Security\n\nPasswords must be rotated every 90 days.",
            "text/markdown",
            "Security",
        ),
        "parking.txt": (
            b"Staff parking is on level minus two of the garage.",
            "text/plain",
            "parking.txt",
        ),
        "holidays.docx": (
            buffer.getvalue(),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "Holidays",
        ),
        "expenses.pdf": (
            make_pdf(["Expense claims are paid within 14 days."]),
            "application/pdf",
            "expenses.pdf",
        ),
    }
    for name, (data, media_type, title) in uploads.items():
        body = _upload(client, kb_id, name, data)
        assert body["outcome"] == "created"
        assert body["document"]["media_type"] == media_type, name
        assert body["document"]["title"] == title, name
        assert body["document"]["source"] == name

    html_doc = client.get(f"/v1/kbs/{kb_id}/documents").json()["items"][0]
    chunk_text = " ".join(
        c["text"] for c in client.get(f"/v1/kbs/{kb_id}/documents/{html_doc['id']}/chunks").json()
    )
    assert "30 days" in chunk_text
    assert "secret-tracker" not in chunk_text and "Login" not in chunk_text

    questions = {
        "How long do I have to return a product?": ("returns.html", "30 days"),
        "How often must passwords be rotated?": ("security.md", "90 days"),
        "How many days of paid holiday do employees get?": ("holidays.docx", "28 days"),
        "When are expense claims paid?": ("expenses.pdf", "14 days"),
        "Where can staff park?": ("parking.txt", "level minus two"),
    }
    for question, (source, fact) in questions.items():
        answer = client.post(f"/v1/kbs/{kb_id}/query", json={"question": question}).json()
        assert answer["grounded"] is True, question
        assert fact in answer["answer"], (question, answer["answer"])
        assert answer["citations"][0]["source"] == source, question
        assert "[1]" in answer["answer"] or "[" in answer["answer"]
        assert answer["model"] == "extractive"


def test_json_text_document_and_replacement(client: TestClient) -> None:
    kb_id = _kb(client)
    first = client.post(
        f"/v1/kbs/{kb_id}/documents",
        json={"title": "Opening hours", "text": "The office opens at 8 am on weekdays."},
    )
    assert first.status_code == 201 and first.json()["outcome"] == "created"
    same = client.post(
        f"/v1/kbs/{kb_id}/documents",
        json={"title": "Opening hours", "text": "The office opens at 8 am on weekdays."},
    )
    assert same.status_code == 200 and same.json()["outcome"] == "unchanged"
    changed = client.post(
        f"/v1/kbs/{kb_id}/documents",
        json={"title": "Opening hours", "text": "The office opens at 9 am on weekdays."},
    )
    assert changed.json()["outcome"] == "updated"
    assert changed.json()["document"]["id"] == first.json()["document"]["id"]
    answer = client.post(
        f"/v1/kbs/{kb_id}/query", json={"question": "When does the office open?"}
    ).json()
    assert "9 am" in answer["answer"] and "8 am" not in answer["answer"]


def test_documents_paginate_get_and_delete(client: TestClient) -> None:
    kb_id = _kb(client)
    ids = [
        _upload(client, kb_id, f"note{i}.txt", f"Note number {i} is about topic {i}.".encode())[
            "document"
        ]["id"]
        for i in range(5)
    ]
    page = client.get(f"/v1/kbs/{kb_id}/documents", params={"limit": 2, "offset": 2}).json()
    assert page["total"] == 5 and [d["id"] for d in page["items"]] == ids[2:4]
    doc = client.get(f"/v1/kbs/{kb_id}/documents/{ids[0]}").json()
    assert doc["chunk_count"] == 1 and len(doc["content_hash"]) == 64
    assert client.delete(f"/v1/kbs/{kb_id}/documents/{ids[0]}").status_code == 204
    assert client.get(f"/v1/kbs/{kb_id}/documents/{ids[0]}").status_code == 404
    hits = client.post(f"/v1/kbs/{kb_id}/search", json={"query": "note number 0", "top_k": 10})
    assert ids[0] not in {h["document_id"] for h in hits.json()["results"]}


def test_search_ranks_with_scores(client: TestClient) -> None:
    kb_id = _kb(client)
    _upload(client, kb_id, "cats.txt", b"Cats are small domesticated felines that purr.")
    _upload(client, kb_id, "tax.txt", b"The corporate tax return is due in April.")
    results = client.post(
        f"/v1/kbs/{kb_id}/search", json={"query": "kitten purring", "min_score": -1}
    ).json()["results"]
    assert [r["source"] for r in results] == ["cats.txt", "tax.txt"]
    assert results[0]["score"] > results[1]["score"]


def test_question_outside_the_knowledge_base_is_not_answered(client: TestClient) -> None:
    kb_id = _kb(client)
    _upload(client, kb_id, "parking.txt", b"Staff parking is on level minus two of the garage.")
    answer = client.post(
        f"/v1/kbs/{kb_id}/query",
        json={"question": "What is the boiling point of mercury in kelvin?"},
    ).json()
    assert answer["grounded"] is False
    assert answer["citations"] == []
    assert "does not contain" in answer["answer"]
    empty = _kb(client, "empty")
    assert (
        client.post(f"/v1/kbs/{empty}/query", json={"question": "Anything?"}).json()["grounded"]
        is False
    )


def test_a_question_to_one_kb_never_sees_another(client: TestClient) -> None:
    a, b = _kb(client, "a"), _kb(client, "b")
    _upload(client, a, "secret.txt", b"The launch code for project Falcon is 4711.")
    _upload(client, b, "public.txt", b"Project Falcon is a new bicycle product line.")
    answer = client.post(
        f"/v1/kbs/{b}/query", json={"question": "What is the launch code for project Falcon?"}
    ).json()
    assert "4711" not in answer["answer"]
    assert all(c["source"] == "public.txt" for c in answer["citations"])


def test_health_and_openapi(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["status"] == "ready"
    paths = client.get("/openapi.json").json()["paths"]
    assert "/v1/kbs/{kb_id}/documents" in paths and "/v1/kbs/{kb_id}/query" in paths


def test_non_utf8_text_is_decoded_not_garbled(client: TestClient) -> None:
    kb_id = _kb(client)
    text = "Le café du personnel ouvre à 7 heures et ferme à 17 heures, été comme hiver."
    body = _upload(client, kb_id, "cafe.txt", text.encode("cp1252"))
    assert body["document"]["media_type"] == "text/plain"
    chunks = client.get(f"/v1/kbs/{kb_id}/documents/{body['document']['id']}/chunks").json()
    assert chunks[0]["text"] == text


def test_hostile_filename_is_only_a_label(client: TestClient) -> None:
    kb_id = _kb(client)
    body = _upload(client, kb_id, "../../etc/passwd", b"Visitors sign in at the front desk.")
    assert body["document"]["source"] == "passwd"
    assert body["document"]["title"] == "passwd"


def test_startup_warms_the_model_and_splitter_in_the_background(
    container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    """The first request does not pay for loading the model and the splitter's imports."""
    caplog.set_level(logging.INFO, logger="api.app")
    with TestClient(create_app(container)):
        deadline = time.monotonic() + 60
        while "warmed up in" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
    assert "warmed up in" in caplog.text


def _nice(thread: threading.Thread) -> int | None:
    """The thread's nice value; None once it has ended."""
    try:
        return os.getpriority(os.PRIO_PROCESS, thread.native_id or 0)
    except OSError:
        return None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
def test_uploads_never_lower_the_priority_of_threads_that_serve_searches(
    container: Container, auth_headers: dict[str, str]
) -> None:
    """Regression: it judged every low-priority thread in the process; others' threads failed it."""
    # Uploads run on ingestion's low-priority threads; the threads that answer requests
    # (searches among them) stay at normal priority, which a process cannot restore once lost.
    # Only threads started while this app ran are judged, by identity: earlier tests leave
    # theirs (another container's ``embed-lane`` pool at nice 10).
    before = set(threading.enumerate())
    app = create_app(container)
    with TestClient(app, raise_server_exceptions=False, headers=auth_headers) as client:
        kb_id = _kb(client)
        for i in range(3):
            response = client.post(
                f"/v1/kbs/{kb_id}/documents", json={"title": f"Page {i}", "text": f"Refunds {i}."}
            )
            assert response.status_code == 201, response.text
            found = client.post(f"/v1/kbs/{kb_id}/search", json={"query": "refunds"})
            assert found.status_code == 200 and found.json()["results"], found.text
        started = {t: _nice(t) for t in threading.enumerate() if t not in before}
    lowered = {t.name for t, nice in started.items() if nice is not None and nice > 0}
    normal = {t.name for t, nice in started.items() if nice == 0}
    assert any(name.startswith("ingest") for name in lowered), started
    assert all(name.startswith("ingest") for name in lowered), started
    assert normal, started  # the threads that served the requests, still at normal priority
