"""`kb doctor` after a real ingestion process was killed with SIGKILL between its steps: it
removes the chunks no live version owns, says how many, and finds nothing the second time."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli.main import app
from api.container import Container, build_container
from ingest.sources import RawSource
from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder
from tests.conftest import MODEL_CACHE, REPO, make_settings

KB = Path(sys.executable).with_name("kb")

# Ingests the files named on the command line into the knowledge base named first, as
# `kb ingest` does, with the step named by KILL_AT replaced by this process killing itself.
_KILLED_INGESTION = """
import os, signal, sys
from pathlib import Path

from api.container import build_container
from ingest.sources import RawSource
from kb.db.registry import Registry
from kb.index.vectors import ChromaStore

def die(*_args, **_kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

if os.environ["KILL_AT"] == "registry-switch":  # new chunks written, registry not switched
    Registry.save_documents = die
else:  # registry switched, the old version's chunks not removed yet
    ChromaStore.delete_document = die
container = build_container()
kb = container.catalog.resolve_kb(sys.argv[1])
paths = [Path(p) for p in sys.argv[2:]]
container.ingestion.ingest_many(
    kb.id, [RawSource(p.read_bytes(), source=str(p.resolve()), filename=p.name) for p in paths]
)
print("not killed")
"""

Inventory = dict[str, dict[str, int]]

HANDBOOK_V1 = "# Holidays\n\n" + " ".join(
    f"Rule {i}: staff in team {i} book their holidays through the portal." for i in range(40)
)
HANDBOOK_V2 = "# Holidays\n\n" + " ".join(
    f"Rule {i}: staff in squad {i} ask their manager before booking holidays." for i in range(40)
)
PARKING = "# Parking\n\n" + " ".join(
    f"Bay {i} of the car park is reserved for visitors on weekdays." for i in range(30)
)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The data directory the `kb` command uses, in this process and in its children."""
    monkeypatch.setenv("KB_STORAGE__DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KB_EMBEDDING__CACHE_DIR", str(MODEL_CACHE))
    return tmp_path / "data"


@contextmanager
def _opened(data_dir: Path, embedder: SentenceTransformerEmbedder) -> Iterator[Container]:
    """The services on ``data_dir``, closed before another process opens it (embedded Chroma
    takes one process at a time)."""
    container = build_container(make_settings(data_dir), embedder=embedder)
    try:
        yield container
    finally:
        container.close()


def _inventory(data_dir: Path, embedder: SentenceTransformerEmbedder) -> Inventory:
    """What each index holds per "document:version", and the registry's live versions."""
    with _opened(data_dir, embedder) as c:
        kb = c.catalog.resolve_kb("office")
        assert kb is not None
        docs, _ = c.catalog.list_documents(kb.id, 100, 0)
        found: Inventory = {"live": {f"{d.id}:{d.version}": d.chunk_count for d in docs}}
        for name, index in (("vectors", c.store), ("lexical", c.lexical)):
            found[name] = {f"{doc}:{v}": n for (doc, v), n in index.versions(kb.id).items()}
        return found


def _orphans(inventory: Inventory, index: str) -> int:
    """Chunks of ``index`` that belong to no live version."""
    return sum(n for key, n in inventory[index].items() if key not in inventory["live"])


@pytest.fixture
def killed(
    tmp_path: Path,
    data_dir: Path,
    embedder: SentenceTransformerEmbedder,
    request: pytest.FixtureRequest,
) -> Inventory:
    """A data directory where an ingestion process was killed at ``request.param``; what its
    indexes hold then."""
    handbook, parking = tmp_path / "handbook.md", tmp_path / "parking.md"
    handbook.write_text(HANDBOOK_V1)
    with _opened(data_dir, embedder) as container:
        kb = container.catalog.create_kb("office")
        raw = RawSource(
            handbook.read_bytes(), source=str(handbook.resolve()), filename=handbook.name
        )
        container.ingestion.ingest(kb.id, raw)
    handbook.write_text(HANDBOOK_V2)
    parking.write_text(PARKING)
    child = subprocess.run(
        [sys.executable, "-c", _KILLED_INGESTION, "office", str(handbook), str(parking)],
        cwd=REPO,
        env={**os.environ, "KILL_AT": request.param},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == -signal.SIGKILL, (child.returncode, child.stdout, child.stderr)
    return _inventory(data_dir, embedder)


@pytest.mark.parametrize("killed", ["registry-switch", "old-version-removal"], indirect=True)
def test_doctor_removes_what_a_killed_ingestion_left(
    killed: Inventory, data_dir: Path, embedder: SentenceTransformerEmbedder
) -> None:
    """kill -9 between the vector write and the registry switch (or before the old version's
    removal) left orphan chunks in Chroma and the BM25 index that nothing ever removed."""
    orphans = _orphans(killed, "vectors")
    assert orphans > 0 and _orphans(killed, "lexical") == orphans

    looked = CliRunner().invoke(app, ["doctor", "--dry-run"])
    assert looked.exit_code == 1, looked.output
    assert f"would remove {orphans} vectors chunks" in looked.stdout
    assert _inventory(data_dir, embedder) == killed  # a dry run changes nothing

    fixed = subprocess.run(
        [str(KB), "doctor"], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert f"removed {orphans} vectors chunks" in fixed.stdout
    assert f"{orphans} lexical chunks" in fixed.stdout
    after = _inventory(data_dir, embedder)
    assert after["vectors"] == after["lexical"] == after["live"]  # every live chunk is kept

    again = CliRunner().invoke(app, ["doctor"])
    assert again.exit_code == 0 and "nothing to fix" in again.stdout, again.output
    with _opened(data_dir, embedder) as container:
        _assert_searches_see_live_chunks_once(container)


def _assert_searches_see_live_chunks_once(container: Container) -> None:
    kb = container.catalog.resolve_kb("office")
    assert kb is not None
    docs, _ = container.catalog.list_documents(kb.id, 100, 0)
    live = {d.id: d.version for d in docs}
    question = "When do staff book their holidays?"
    dense = container.store.query(kb.id, container.embedder.embed([question])[0], k=200)
    lexical = container.lexical.search(kb.id, "holidays staff booking", k=200)
    for hits in (dense, lexical):
        assert hits and all(live[h.document_id] == h.version for h in hits)
        assert len({h.chunk_id for h in hits}) == len(hits)
