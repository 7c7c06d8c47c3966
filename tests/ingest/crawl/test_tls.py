"""HTTPS through pinned connections: the crawler connects to the vetted address but checks the
certificate against the URL's host name (sent as SNI), trusting an extra CA when configured."""

from __future__ import annotations

import datetime
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient

from api.app import create_app
from api.container import build_container
from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder
from tests.conftest import admin_headers, make_settings
from tests.ingest.crawl.test_site import crawl, documents
from tests.support.crawl_site import FixtureSite, serve

PAGE = "<h1>Vault</h1><p>The Quasar vault opens with the brass key kept at reception.</p>"


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _certificates(tmp: Path, host: str) -> tuple[Path, Path, Path]:
    """A private CA (PEM) and a server certificate and key for ``host`` signed by it."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("kb-engine test CA"))
        .issuer_name(_name("kb-engine test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name(host))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    paths = tmp / "ca.pem", tmp / "server.pem", tmp / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


@contextmanager
def _https_site(tmp: Path, certificate_host: str) -> Iterator[tuple[FixtureSite, Path, list[str]]]:
    """The fixture site over HTTPS on 127.0.0.1 (base https://localhost:PORT), its certificate
    naming ``certificate_host``; yields the site, the CA file that signed it and the server
    names (SNI) clients asked for."""
    ca_file, cert_file, key_file = _certificates(tmp, certificate_host)
    site = FixtureSite()
    site.html("/", PAGE, "Vault")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    asked: list[str] = []

    def remember(_sock: ssl.SSLObject, name: str | None, _context: ssl.SSLContext) -> None:
        asked.append(name or "")

    context.sni_callback = remember  # type: ignore[assignment]
    with serve(site, tls=context) as running:
        yield running, ca_file, asked


def _api(tmp: Path, embedder: SentenceTransformerEmbedder, ca_file: Path | None) -> TestClient:
    settings = make_settings(tmp / "data")
    settings.crawl.allowed_hosts = ["localhost", "127.0.0.1", "::1"]
    settings.crawl.ca_file = ca_file
    container = build_container(settings, embedder=embedder)
    return TestClient(create_app(container), headers=admin_headers(container))


def test_https_site_signed_by_the_configured_ca_is_crawled_with_sni(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    with _https_site(tmp_path, "localhost") as (site, ca_file, asked):
        api = _api(tmp_path, embedder, ca_file)
        with api:
            kb = api.post("/v1/kbs", json={"name": "tls"}).json()["id"]
            job = crawl(api, kb, f"{site.base}/")
            assert job["status"] == "done", job
            assert job["counts"]["ingested"] == 1, job["counts"]
            assert f"{site.base}/" in documents(api, kb)
    # Connected to the pinned 127.0.0.1, the TLS handshake still named the host.
    assert "localhost" in asked


@pytest.mark.parametrize("certificate_host", ["wrong.example", "localhost"])
def test_https_certificates_that_do_not_check_out_are_refused(
    tmp_path: Path, embedder: SentenceTransformerEmbedder, certificate_host: str
) -> None:
    """wrong.example: a certificate for another host (trusted CA); localhost: the right host
    signed by a CA nobody configured."""
    with _https_site(tmp_path, certificate_host) as (site, ca_file, _asked):
        trusted = ca_file if certificate_host != "localhost" else None
        with _api(tmp_path, embedder, trusted) as api:
            kb = api.post("/v1/kbs", json={"name": "tls"}).json()["id"]
            job = crawl(api, kb, f"{site.base}/")
            assert job["counts"]["ingested"] == 0, job["counts"]
            assert documents(api, kb) == {}
