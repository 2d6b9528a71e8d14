"""`manage.py import_civitai`: the same import in the foreground."""

import hashlib
import io

import pytest
from django.core.management import CommandError, call_command

from models_app.models import SDModel
from models_app.storage import model_file_path
from tests.support.civitai import DATA, SHA


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("import_civitai", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_model_option_imports_the_latest_version_and_prints_the_hash(client, civitai):
    civitai.drop_after = [500_000]  # resumes in the foreground too
    out, err = run("--model", "10391")
    assert out.strip() == SHA
    model = SDModel.objects.get(pk=SHA)
    assert model.status == "ready" and model.metadata["civitai"]["version_id"] == 88214
    assert model_file_path(model).read_bytes() == DATA
    assert civitai.bytes_served == len(DATA)
    assert "Importing Dreamlike Valley v3" in err


def test_version_id_alone_finds_its_model(client, civitai):
    out, _ = run("88214")
    assert out.strip() == SHA
    assert SDModel.objects.get(pk=SHA).source_url.endswith("/models/10391?modelVersionId=88214")
    out, _ = run("88214")  # already there: same hash, nothing fetched again
    assert out.strip() == SHA and len(civitai.file_requests) == 1


def test_failures_exit_non_zero_with_the_reason(client, civitai, settings):
    stated = hashlib.sha256(b"other").hexdigest()
    civitai.add_model(900, "Liar")
    civitai.add_version(900, 901, DATA, stated_sha256=stated)
    with pytest.raises(CommandError, match="SHA256 mismatch"):
        run("901")
    assert SDModel.objects.get(pk=stated).status == "failed"
    with pytest.raises(CommandError, match="not found"):
        run("--model", "4242")
    with pytest.raises(CommandError, match="VERSION_ID"):
        run()
    with pytest.raises(CommandError, match="positive integer"):
        run("abc")
    settings.SDHOST = {**settings.SDHOST, "CIVITAI_ENABLED": False}
    with pytest.raises(CommandError, match="disabled"):
        run("88214")
