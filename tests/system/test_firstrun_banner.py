"""The start-up banner of `manage.py serve`: the text from plain facts, and the facts from settings and database."""

import pytest
import torch
from django.contrib.auth import get_user_model

from sdhost.banner import BannerFacts, base_url, collect_facts, describe_device, render_banner

FACTS = BannerFacts(host="127.0.0.1", port=8000, data_dir="/srv/sd/data", database="SQLite /srv/sd/data/sdhost.sqlite3",
                    device="cuda:0 (NVIDIA H200, 139.8 GiB)", token_required=False, loopback=True,
                    worker_in_process=True, admin_exists=False)


def line(text, label):
    [found] = [row for row in text.splitlines() if row.strip().startswith(label + " ")]
    return found.strip()


def test_banner_says_where_everything_is():
    text = render_banner(FACTS)
    assert "http://127.0.0.1:8000/api\n" in text + "\n"
    assert line(text, "Web UI").endswith("http://127.0.0.1:8000/")
    assert "http://127.0.0.1:8000/api/docs" in text
    assert "http://127.0.0.1:8000/admin/" in text
    assert "/srv/sd/data\n" in text and "SQLite /srv/sd/data/sdhost.sqlite3" in text
    assert "cuda:0 (NVIDIA H200, 139.8 GiB)" in text
    assert line(text, "Token").endswith("not required")
    assert line(text, "Worker").endswith(" in this process")
    assert "python manage.py createsuperuser" in line(text, "Admin user")
    assert "every address" not in text


def test_banner_on_every_address_with_a_token_and_an_admin_and_no_worker():
    text = render_banner(BannerFacts(**{**FACTS.__dict__, "host": "0.0.0.0", "token_required": True,
                                        "loopback": False, "admin_exists": True, "worker_in_process": False}))
    assert "http://127.0.0.1:8000/api/docs" in text  # a browser on this machine
    assert "every address (0.0.0.0)" in text and "http://<this machine's address>:8000" in text
    assert "required: send 'Authorization: Bearer $SDHOST_API_TOKEN'" in text
    assert "runworker render" in text
    assert "createsuperuser" not in text


def test_banner_warns_of_an_open_lan_server():
    text = render_banner(BannerFacts(**{**FACTS.__dict__, "host": "192.168.1.20", "loopback": False}))
    assert "http://192.168.1.20:8000/api" in text
    assert "not required: anyone who can reach this address can use the API" in text


@pytest.mark.parametrize("host, url", [("::1", "http://[::1]:8000"), ("::", "http://127.0.0.1:8000"),
                                       ("sd.local", "http://sd.local:8000")])
def test_base_url(host, url):
    assert base_url(host, 8000) == url


def test_describe_device():
    assert describe_device("cpu").startswith("cpu (slow with real checkpoints")
    detected = describe_device(None)
    if torch.cuda.is_available():
        assert detected.startswith("cuda:0 (") and "GiB)" in detected
    elif torch.backends.mps.is_available():
        assert detected.startswith("mps")
    else:
        assert detected.startswith("cpu")
        assert "not available: renders will fail" in describe_device("cuda")
    assert describe_device("cuda:x").startswith("cuda:x (not available")
    assert describe_device("cuda:99").startswith("cuda:99 (not available")


def test_collect_facts_reads_settings_and_the_database(settings, db, data_dirs):
    settings.SDHOST = {**settings.SDHOST, "API_TOKEN": "s3cret", "DEVICE": "cpu"}
    facts = collect_facts("127.0.0.1", 8123, loopback=True, worker_in_process=False)
    assert (facts.host, facts.port, facts.data_dir) == ("127.0.0.1", 8123, str(data_dirs))
    assert (facts.database.startswith("SQLite ") and facts.database.endswith(".sqlite3")
            or facts.database.startswith("postgresql://"))  # the suite's PostgreSQL pass
    assert facts.device.startswith("cpu") and facts.token_required and not facts.worker_in_process
    assert not facts.admin_exists
    get_user_model().objects.create_superuser("admin", "a@example.com", "pw")
    assert collect_facts("127.0.0.1", 8123, loopback=True, worker_in_process=True).admin_exists
