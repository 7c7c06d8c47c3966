"""The WordPress plugin (integrations/wordpress/kb-chat): run by php-cli against stubs of the few
WordPress functions it calls, so its sanitiser and the tag it prints are checked for real."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "integrations" / "wordpress" / "kb-chat" / "kb-chat.php"
STUBS = Path(__file__).with_name("wp_stubs.php")
PHP = shutil.which("php")
needs_php = pytest.mark.skipif(PHP is None, reason="php-cli is not installed (Debian php-cli)")

KEY = "kb_pub_" + "A1b2C3d4E5f6G7h8"


def run_php(settings: dict[str, str]) -> dict:
    """The plugin's sanitised settings, the errors it raised and the tag it prints."""
    script = (
        f"require {json.dumps(str(STUBS))}; require {json.dumps(str(PLUGIN))};"
        "$in = json_decode(stream_get_contents(STDIN), true);"
        "$clean = kb_chat_sanitize($in); $GLOBALS['kb_options'][KB_CHAT_OPTION] = $clean;"
        "ob_start(); kb_chat_print_tag(); $tag = ob_get_clean();"
        "echo json_encode(['clean' => $clean, 'errors' => $GLOBALS['kb_errors'], 'tag' => $tag]);"
    )
    done = subprocess.run(
        [PHP, "-d", "display_errors=stderr", "-r", script],
        input=json.dumps(settings),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert done.stderr == "", done.stderr
    return json.loads(done.stdout)


@needs_php
def test_the_plugin_is_valid_php() -> None:
    done = subprocess.run([PHP, "-l", str(PLUGIN)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@needs_php
def test_settings_give_the_one_script_tag_the_widget_reads() -> None:
    out = run_php({"host": "https://KB.example.com/", "key": KEY, "position": "left", "lang": "fr"})
    assert out["errors"] == []
    assert out["tag"] == (
        f'<script src="https://kb.example.com/widget.js" data-key="{KEY}" '
        'data-host="https://kb.example.com" data-position="left" data-lang="fr" async></script>\n'
    )
    widget = (ROOT / "api" / "web" / "widget.js").read_text(encoding="utf-8")
    for attribute in re.findall(r" (data-[a-z]+)=", out["tag"]):
        assert attribute.removeprefix("data-") in widget, f"widget.js does not read {attribute}"


@needs_php
def test_no_tag_until_host_and_key_are_set() -> None:
    assert run_php({"host": "https://kb.example.com", "key": ""})["tag"] == ""
    assert run_php({"host": "", "key": KEY})["tag"] == ""


@needs_php
@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("javascript:alert(1)", KEY),
        ('https://kb.example.com/"><script>alert(1)</script>', KEY),
        ("https://user:pw@kb.example.com", KEY),
        ("https://kb.example.com/?x=1", KEY),
        ("https://kb.example.com", "kb_live_secretsecretsecret"),  # a secret key is refused
        ("https://kb.example.com", f'{KEY}" onload="alert(1)'),
    ],
)
def test_hostile_or_secret_settings_are_refused_not_stored(host: str, key: str) -> None:
    out = run_php({"host": host, "key": key, "position": "<b>", "lang": "xx"})
    assert out["errors"], "the admin is told what was refused"
    assert out["tag"] == ""
    assert "<" not in json.dumps(out["clean"]) and '"' not in "".join(out["clean"].values())
    assert out["clean"]["position"] == "" and out["clean"]["lang"] == ""
