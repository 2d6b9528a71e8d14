"""`manage.py serve`: the bind-address guard of D14."""

import pytest
from django.core.management import CommandError, call_command

from sdhost.management.commands.serve import bind_refusal, is_loopback


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
