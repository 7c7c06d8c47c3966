"""deploy/compose.yaml, read structurally (no Docker daemon here: `docker compose config` cannot
run): the topology, healthchecks, start order, and that every KB_* name is a real setting."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from api.cli.main import app as cli
from tests.deploy.settings_names import is_secret, setting_field

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
LONG_RUNNING = ("proxy", "api", "worker", "postgres", "redis", "chroma")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def _env_file(name: str) -> dict[str, str]:
    """The variables of an example env file (``NAME=value`` lines)."""
    pairs = {}
    for line in (DEPLOY / f"{name}.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def _kb_names(services: dict[str, Any]) -> set[str]:
    names = set()
    for service in services.values():
        names |= {n for n in (service.get("environment") or {}) if n.startswith("KB_")}
    return names


def _cli_commands() -> set[str]:
    names = {c.name or c.callback.__name__ for c in cli.registered_commands}
    return names | {g.name for g in cli.registered_groups if g.name}


def test_the_topology_is_complete(services: dict[str, Any]) -> None:
    assert set(services) >= {*LONG_RUNNING, "migrate"}
    assert services["api"]["deploy"]["replicas"] == 2
    assert services["worker"]["deploy"]["replicas"] == 2
    assert services["postgres"]["image"].startswith("postgres:15")
    assert services["redis"]["image"].startswith("redis:7")


def test_commands_are_the_kb_cli(services: dict[str, Any]) -> None:
    """api, worker and migrate run `kb serve`, `kb worker`, `kb migrate`, commands that exist."""
    expected = {"api": "serve", "worker": "worker", "migrate": "migrate"}
    for name, command in expected.items():
        assert services[name]["command"] == ["kb", command], name
        assert command in _cli_commands(), f"`kb {command}` is not a command"
    chroma = services["chroma"]["command"]
    assert chroma[:2] == ["chroma", "run"] and "--path" in chroma
    assert services["migrate"]["restart"] == "no"


def test_the_kb_services_share_one_image(services: dict[str, Any]) -> None:
    images = {services[n]["image"] for n in ("api", "worker", "migrate", "chroma")}
    assert images == {"kb-engine:latest"}
    assert services["api"]["build"]["dockerfile"] == "deploy/Dockerfile"
    assert (DEPLOY / services["api"]["build"]["context"] / "deploy" / "Dockerfile").is_file()


def test_every_long_running_service_has_a_healthcheck(services: dict[str, Any]) -> None:
    for name in LONG_RUNNING:
        check = services[name].get("healthcheck") or {}
        assert not check.get("disable"), name
        assert check.get("test") and check["test"][0] in ("CMD", "CMD-SHELL"), name
        assert check.get("interval") and check.get("timeout") and check.get("retries"), name
    assert "/readyz" in " ".join(services["api"]["healthcheck"]["test"])
    assert "/api/v2/heartbeat" in " ".join(services["chroma"]["healthcheck"]["test"])


def test_start_order_waits_for_health(services: dict[str, Any]) -> None:
    """api and workers start once migrations ran and the servers they use are healthy."""
    for name in ("api", "worker"):
        needs = services[name]["depends_on"]
        assert needs["migrate"]["condition"] == "service_completed_successfully", name
        for server in ("postgres", "redis", "chroma"):
            assert needs[server]["condition"] == "service_healthy", (name, server)
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name, service in services.items():
        for needed, rule in (service.get("depends_on") or {}).items():
            assert needed in services, (name, needed)
            if rule["condition"] == "service_healthy":
                assert services[needed].get("healthcheck", {}).get("test"), (name, needed)


def test_every_kb_name_is_a_setting(services: dict[str, Any]) -> None:
    names = _kb_names(services) | {n for n in _env_file("kb.env") if n.startswith("KB_")}
    assert len(names) >= 8
    unknown = sorted(n for n in names if setting_field(n) is None)
    assert not unknown, f"not settings of kb.settings.Settings: {unknown}"


def test_the_distributed_settings_are_set(services: dict[str, Any]) -> None:
    """Configuration only: registry, Chroma server, broker, rate-limit storage, shared keys."""
    env = services["api"]["environment"]
    assert env == services["worker"]["environment"] == services["migrate"]["environment"]
    assert env["KB_STORE__CHROMA_HOST"] == "chroma"
    chroma = services["chroma"]["command"]
    assert chroma[chroma.index("--port") + 1] == env["KB_STORE__CHROMA_PORT"]
    assert env["KB_JOBS__BROKER_URL"].startswith("redis://redis:6379")
    assert env["KB_SECURITY__RATE_LIMIT_STORAGE"].startswith("redis://redis:6379")
    secrets = _env_file("kb.env")
    assert secrets["KB_STORAGE__DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "@postgres:5432/" in secrets["KB_STORAGE__DATABASE_URL"]
    for key in ("KB_SECURITY__TOKEN_SIGNING_KEY", "KB_SECURITY__ENCRYPTION_KEYS"):
        assert key in secrets


def test_secrets_stay_out_of_the_compose_file(services: dict[str, Any]) -> None:
    for name in ("api", "worker", "migrate"):
        assert services[name]["env_file"] == ["kb.env"]
    assert services["postgres"]["env_file"] == ["postgres.env"]
    assert "POSTGRES_PASSWORD" in _env_file("postgres.env")
    for name in _kb_names(services):
        field = setting_field(name)
        assert field is not None and not is_secret(field), f"{name} is a secret"
    text = (DEPLOY / "compose.yaml").read_text()
    assert not re.search(r"(PASSWORD|postgresql\+psycopg://)\S*:", text)
    ignored = (DEPLOY / ".gitignore").read_text().split()
    assert "kb.env" in ignored and "postgres.env" in ignored


def test_only_the_proxy_is_published(services: dict[str, Any], compose: dict[str, Any]) -> None:
    """Replicas sit behind the proxy, which alone is trusted for X-Forwarded-For."""
    assert [n for n, s in services.items() if s.get("ports")] == ["proxy"]
    address = services["proxy"]["networks"]["kb"]["ipv4_address"]
    assert services["api"]["environment"]["KB_API__TRUSTED_PROXIES"] == f'["{address}"]'
    subnet = compose["networks"]["kb"]["ipam"]["config"][0]["subnet"]
    assert address.startswith(subnet.split(".0.0/")[0])
    caddyfile = (DEPLOY / "Caddyfile").read_text()
    assert re.search(r"dynamic a \{\s*name api\s*port 8000", caddyfile)


def test_named_volumes_hold_the_state(services: dict[str, Any], compose: dict[str, Any]) -> None:
    mounts = {
        "postgres": "/var/lib/postgresql/data",
        "redis": "/data",
        "chroma": "/var/lib/chroma",
    }
    for name, path in mounts.items():
        volume = next(v for v in services[name]["volumes"] if v.endswith(f":{path}"))
        assert volume.split(":")[0] in compose["volumes"], name
    assert "--appendonly" in services["redis"]["command"]
