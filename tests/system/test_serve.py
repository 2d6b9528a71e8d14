"""`manage.py serve`: the bind-address guard of D14."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from sdhost.management.commands.serve import bind_refusal, is_loopback

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_addresses(host):
    assert is_loopback(host)
    assert bind_refusal(host, None, False) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::"])
def test_lan_bind_needs_a_token_or_explicit_consent(host):
    assert not is_loopback(host)
    assert "SDHOST_API_TOKEN" in bind_refusal(host, None, False)
    assert bind_refusal(host, "s3cret", False) is None
    assert bind_refusal(host, None, True) is None


def test_serve_refuses_lan_bind_without_token_before_doing_anything(settings, db):
    settings.SDHOST = {**settings.SDHOST, "API_TOKEN": None, "ALLOW_INSECURE_BIND": False}
    with pytest.raises(CommandError, match="Refusing to listen on 0.0.0.0"):
        call_command("serve", host="0.0.0.0", port=8999)


@pytest.mark.parametrize("token", ["   ", "\t", " s3cret", "s3cret\n"])
@pytest.mark.parametrize("host", ["0.0.0.0", "127.0.0.1"])
def test_serve_refuses_a_blank_or_padded_token(settings, db, token, host):
    """A whitespace-only token counted as a token and opened 0.0.0.0 (issue 23, item 7); no client can send either."""
    settings.SDHOST = {**settings.SDHOST, "API_TOKEN": token, "ALLOW_INSECURE_BIND": False}
    with pytest.raises(CommandError, match="SDHOST_API_TOKEN (is blank|starts or ends with whitespace)"):
        call_command("serve", host=host, port=8999)


def test_serve_started_with_a_blank_token_exits_with_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SDHOST_")}
    env.update(SDHOST_DATA_DIR=str(tmp_path), SDHOST_API_TOKEN="   ")
    result = subprocess.run([sys.executable, "manage.py", "serve", "--host", "0.0.0.0", "--port", "8999"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip() == ("CommandError: SDHOST_API_TOKEN is blank (only whitespace): set it to the token "
                                     "itself without surrounding whitespace, or unset it (a token is needed to listen "
                                     "on a non-loopback address).")
    assert not (tmp_path / "sdhost.sqlite3").exists()  # refused before anything was done
