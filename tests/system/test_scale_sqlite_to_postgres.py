"""docs/deployment.md's move of a SQLite library to PostgreSQL, command for command, on a seeded library:
the API answers the same before and after. Runs in the PostgreSQL pass (tests/support/cluster.py)."""

import json
import os
import subprocess
import sys

import pytest

from tests.support.cluster import ROOT, Cluster, require_services

pytestmark = pytest.mark.multiprocess

URLS = [
    "/api/models?include=tags&sort=name",
    "/api/images?sort=-metadata.rating",
    "/api/images?filter[tags][any]=PAINTERLY,forest&filter[metadata.rating][gte]=2",
    "/api/tasks?include=tags,task_models",
    "/api/tags?sort=name",
    "/api/tags?sort=-image_count",
]
ANSWERS = (
    "import json; from django.test import Client; c = Client(HTTP_HOST='localhost')\n"
    f"print('ANSWERS', json.dumps([c.get(u).json() for u in {URLS!r}]))"
)


def manage(env, *args):
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def answers(env):
    line = next(line for line in manage(env, "shell", "-c", ANSWERS).splitlines() if line.startswith("ANSWERS "))
    return json.loads(line.removeprefix("ANSWERS "))


def test_dumpdata_loaddata_moves_a_library_to_postgresql(tmp_path):
    require_services()
    sqlite = {**os.environ, "SDHOST_DATA_DIR": str(tmp_path / "old"), "SDHOST_LOG_LEVEL": "WARNING"}
    for name in ("SDHOST_DATABASE_URL", "SDHOST_DATABASE_PATH", "SDHOST_REDIS_URL"):
        sqlite.pop(name, None)
    manage(sqlite, "migrate", "-v", "0")
    manage(sqlite, "shell", "-c", "from tests.support.query_seed import seed; seed()")
    before = answers(sqlite)
    assert before[0]["meta"]["total"] == 5 and before[1]["data"]  # the seeded library is there
    dump = tmp_path / "library.json"
    manage(sqlite, "dumpdata", "--natural-foreign", "--exclude", "contenttypes", "--exclude", "auth.permission",
           "--exclude", "admin.logentry", "--exclude", "sessions", "-o", str(dump))

    cluster = Cluster(tmp_path / "new")  # an empty PostgreSQL database, migrated
    try:
        manage(cluster.env, "loaddata", str(dump))
        assert answers(cluster.env) == before
        # sequences were reset: new link rows get fresh ids
        manage(cluster.env, "shell", "-c", (
            "from system_app.models import Tag; from images_app.models import Image, ImageTag; "
            "ImageTag.objects.create(image=Image.objects.first(), tag=Tag.objects.named(['brand-new'])[0])"))
    finally:
        cluster.close()
