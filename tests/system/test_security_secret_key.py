"""SECRET_KEY: random on first start, kept in the data directory with mode 0600, reused after (issue 8, item 13)."""

import os
import stat
import subprocess
import sys
from pathlib import Path

from sdhost.secret_key import load_or_create

ROOT = Path(__file__).resolve().parents[2]
PRINT_KEY = "from django.conf import settings; print(settings.SECRET_KEY)"


def secret_key_of_a_fresh_process(data_dir, **extra_env):
    env = {k: v for k, v in os.environ.items() if k not in ("SDHOST_SECRET_KEY", "SDHOST_DATABASE_PATH")}
    env.update(SDHOST_DATA_DIR=str(data_dir), **extra_env)
    result = subprocess.run([sys.executable, "manage.py", "shell", "-c", PRINT_KEY], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_first_start_generates_a_private_random_key_and_the_next_start_reuses_it(tmp_path):
    first = secret_key_of_a_fresh_process(tmp_path)
    key_file = tmp_path / "secret_key"
    assert key_file.read_text().strip() == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert str(tmp_path) not in first and len(first) >= 50
    assert secret_key_of_a_fresh_process(tmp_path) == first
    assert secret_key_of_a_fresh_process(tmp_path / "other") != first


def test_sdhost_secret_key_overrides_the_file(tmp_path):
    assert secret_key_of_a_fresh_process(tmp_path, SDHOST_SECRET_KEY="from-the-environment") == "from-the-environment"
    assert not (tmp_path / "secret_key").exists()


def test_load_or_create_reuses_the_stored_key_and_leaves_no_temporary_file(tmp_path):
    keys = {load_or_create(tmp_path) for _ in range(3)}
    assert len(keys) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]  # no temporary file left behind
