"""A full round trip through a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

import httpx

from tests.support.pdf_factory import make_pdf

PAGES = [
    "Welcome to the ACME employee handbook. This handbook describes company policies.",
    "Remote work: employees may work from home up to three days per week with approval.",
    "Travel: book all flights through the travel desk at least fourteen days in advance.",
]


def test_upload_pdf_then_ask_cites_the_right_page(
    live_server: str, auth_headers: dict[str, str]
) -> None:
    with httpx.Client(base_url=live_server, headers=auth_headers, timeout=60) as http:
        kb = http.post("/v1/kbs", json={"name": "handbook"}).json()
        pdf = make_pdf(PAGES, title="ACME Handbook")
        uploaded = http.post(
            f"/v1/kbs/{kb['id']}/documents",
            files={"file": ("handbook.pdf", pdf, "application/pdf")},
        )
        assert uploaded.status_code == 201, uploaded.text
        assert uploaded.json()["document"]["title"] == "ACME Handbook"

        answer = http.post(
            f"/v1/kbs/{kb['id']}/query",
            json={"question": "How many days per week can I work from home?"},
        ).json()

        assert answer["grounded"] is True
        assert "three days per week" in answer["answer"]
        top = answer["citations"][0]
        assert top["page"] == 2
        assert top["source"] == "handbook.pdf"
        assert top["title"] == "ACME Handbook"
        assert "work from home" in top["text"]
        assert f"[{top['number']}]" in answer["answer"]

        travel = http.post(
            f"/v1/kbs/{kb['id']}/query",
            json={"question": "How far ahead must flights be booked?"},
        ).json()
        assert travel["citations"][0]["page"] == 3
