"""Query-engine benchmark: representative list queries through a real server (uvicorn) vs hand-written SQL.

    python bench/query_bench.py [--models 10000] [--images 100000] [--runs 50] [--postgres SERVER_URL]
                                [--reuse DIR_OR_DATABASE] [--only TEXT]

Seeds a throw-away data folder (SDHOST_DATA_DIR) with models and images carrying realistic tags
and metadata, starts uvicorn on 127.0.0.1, and for each query measures:

- API: the whole HTTP request (client-side wall time, JSON decoded), p50/p95;
- engine SQL: the statements the engine issued for that request, re-run raw through sqlite3;
- hand SQL: hand-written statements giving the same page (same ids, same order) and total.

It asserts that all three agree on the ids, prints a table with the ratios, and runs EXPLAIN QUERY
PLAN on the engine's page query. Targets: API p95 < 25 ms; engine SQL <= 1.5x hand-written SQL.

With `--postgres postgres://user@host:5432` the same library is seeded into a throw-away PostgreSQL
database on that server (dropped afterwards) and the API and the engine's SQL (re-run through
psycopg) are timed; the hand-written statements and the plans are SQLite's, so they are skipped.

`--reuse` keeps the seeded library (a data folder, or a PostgreSQL database name) and reuses it on the
next run, migrated forward, not reseeded. The two broad tag filters also run with `page[count]=estimate`
(their hand-written totals then count up to the same cap). `--only TEXT` runs the queries whose name
contains TEXT. Every run ends with the write costs: one batch update tagging
and untagging 1,000 images through the API, and single image inserts.

Prompt search (issue 24 item 6, `filter[prompt][contains]`, core/prompt_search.py): 60% of the images carry a
metadata `prompt` (as imported ones do), 30% link to one of `images / 10` tasks with prompts (rendered ones), the
rest have none; prompts are 8-20 words drawn Zipf-like from a 200-word vocabulary. The `prompt` queries have
their own target: API p95 <= 50 ms.
"""

import argparse
import os
import random
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TAGS = [
    "portrait", "landscape", "anime", "photorealistic", "detailed", "masterpiece", "nsfw", "favorite",
    "wallpaper", "commercial", "scenery", "night", "forest", "city", "sci-fi", "fantasy", "cyberpunk",
    "watercolor", "oil-painting", "sketch", "cinematic", "macro", "animal", "architecture", "food",
    "vehicle", "abstract", "minimalist", "vintage", "sharp",
]
SIZES = [(512, 512), (512, 768), (768, 512), (768, 768), (832, 1216), (1024, 1024), (1216, 832), (1024, 1536)]
BASES = ["SD1.5", "SDXL", "SD2.1", "Pony", None]
TYPES = ["checkpoint", "lora", "lora", "lora", "controlnet", "vae", "embedding", "embedding"]


def setup_django(reuse, prefix):
    """Point SD-Host at a data folder (`reuse`, kept, or a new temporary one) with no render worker and set Django
    up; returns (the folder, whether it already held a database)."""
    data_dir = reuse or tempfile.mkdtemp(prefix=prefix)
    reused = bool(reuse) and (Path(data_dir) / "sdhost.sqlite3").exists()
    os.makedirs(data_dir, exist_ok=True)
    os.environ["SDHOST_DATA_DIR"] = data_dir
    os.environ["SDHOST_RENDER_WORKER"] = "0"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sdhost.settings")
    os.environ.pop("SDHOST_DATABASE_PATH", None)
    import django

    django.setup()
    return data_dir, reused


def tag_weights():
    return [1 / (rank + 1) ** 0.7 for rank in range(len(TAGS))]  # Zipf-like: a few tags are common


def pick_tags(rng, weights):
    chosen = set()
    for _ in range(rng.randint(0, 5)):
        chosen.add(rng.choices(TAGS, weights)[0])
    return sorted(chosen)


ADJECTIVES = ["misty", "ancient", "golden", "dark", "bright", "quiet", "stormy", "frozen", "sunlit", "hidden",
              "ruined", "glowing", "crimson", "silver", "emerald", "lonely", "vast", "tiny", "ornate", "rusty"]
NOUNS = ["forest", "castle", "city", "river", "mountain", "portrait", "knight", "dragon", "harbour", "garden",
         "temple", "desert", "ocean", "village", "tower", "bridge", "meadow", "cathedral", "lighthouse", "robot",
         "fox", "wolf", "owl", "cat", "ship", "train", "market", "library", "cave", "island"]
STYLE = ["masterpiece", "best quality", "highly detailed", "8k", "cinematic lighting", "volumetric light",
         "sharp focus", "octane render", "trending on artstation", "film grain", "bokeh", "watercolor",
         "oil painting", "concept art", "studio lighting", "soft shadows", "dramatic sky", "wide angle"]
PROMPT_WORDS = ADJECTIVES + NOUNS + STYLE + [f"{a}{n}" for a in ("neo", "pre", "ultra", "hyper") for n in NOUNS]


PROMPT_WEIGHTS = [1 / (rank + 1) ** 0.8 for rank in range(len(PROMPT_WORDS))]


def pick_prompt(rng):
    """8-20 words (4-10 entries, some of two words), Zipf-like over the vocabulary, with A1111 punctuation."""
    words = rng.choices(PROMPT_WORDS, PROMPT_WEIGHTS, k=rng.randint(4, 10))
    return ", ".join(f"({word}:1.2)" if rng.random() < 0.1 else word for word in words)


def pick_metadata(rng):
    metadata = {}
    if rng.random() < 0.6:
        metadata["rating"] = rng.randint(1, 5)
    if rng.random() < 0.3:
        metadata["is_favorite"] = rng.random() < 0.5
    return metadata


def seed(n_models, n_images):
    from core.tags import fold_tag_name
    from images_app.models import Image, ImageTag
    from models_app.models import ModelTag, SDModel
    from system_app.models import Tag
    from tasks_app.models import Task

    rng = random.Random(42)
    weights = tag_weights()
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    tags = Tag.objects.bulk_create([Tag(name=name, folded=fold_tag_name(name)) for name in TAGS])
    by_name = {tag.name: tag for tag in tags}

    models, model_tags = [], []
    for n in range(n_models):
        model = SDModel(
            hash=f"{rng.getrandbits(256):064x}", name=f"{rng.choice(TAGS)}-{rng.choice(TAGS)}-v{n}",
            model_type=rng.choice(TYPES), base_model=rng.choice(BASES), size=rng.randint(10_000, 7_000_000_000),
            metadata=pick_metadata(rng), status="ready",
            created_at=start + timedelta(seconds=rng.randint(0, 365 * 86400), microseconds=rng.randint(0, 999999)),
        )
        models.append(model)
        model_tags += [ModelTag(model=model, tag=by_name[name], created_at=start) for name in pick_tags(rng, weights)]
    SDModel.objects.bulk_create(models, batch_size=2000)
    ModelTag.objects.bulk_create(model_tags, batch_size=5000)

    checkpoints = [model for model in models if model.model_type == "checkpoint"]
    tasks = [Task(checkpoint=rng.choice(checkpoints), prompt=pick_prompt(rng), status="completed")
             for _ in range(n_images // 10 if checkpoints else 0)]
    Task.objects.bulk_create(tasks, batch_size=2000)

    images, image_tags = [], []
    for n in range(n_images):
        width, height = rng.choice(SIZES)
        metadata, task, kind = pick_metadata(rng), None, rng.random()
        if kind < 0.6:
            metadata["prompt"] = pick_prompt(rng)  # imported
        elif kind < 0.9 and tasks:
            task = rng.choice(tasks)  # rendered
        image = Image(
            hash=f"{rng.getrandbits(256):064x}", width=width, height=height, size=rng.randint(50_000, 5_000_000),
            seed=rng.getrandbits(32), metadata=metadata, task=task,
            created_at=start + timedelta(seconds=rng.randint(0, 365 * 86400), microseconds=rng.randint(0, 999999)),
        )
        images.append(image)
        image_tags += [ImageTag(image=image, tag=by_name[name], created_at=start) for name in pick_tags(rng, weights)]
    Image.objects.bulk_create(images, batch_size=5000)
    ImageTag.objects.bulk_create(image_tags, batch_size=10000)
    return len(model_tags), len(image_tags)


def seed_once(reused, args):
    """Seed the library unless it is a reused one (then only count its links)."""
    if not reused:
        return seed_sql(args.models, args.images) if args.sql_seed else seed(args.models, args.images)
    from images_app.models import ImageTag
    from models_app.models import ModelTag

    return ModelTag.objects.count(), ImageTag.objects.count()


def seed_sql(n_models, n_images):
    """PostgreSQL, for 1M images: the models as `seed` makes them, the images and their tags in two INSERT ... SELECT
    statements (the same sizes, tags (Zipf-like), metadata keys and a year of timestamps, from SQL's random())."""
    from django.db import connection

    from images_app.models import ImageTag

    n_model_tags, _ = seed(n_models, 0)
    tags = "ARRAY[" + ", ".join(f"'{name}'" for name in TAGS) + "]"
    widths = "ARRAY[" + ", ".join(str(w) for w, _ in SIZES) + "]"
    heights = "ARRAY[" + ", ".join(str(h) for _, h in SIZES) + "]"
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.42)")
        cursor.execute(f"""
            INSERT INTO images (hash, width, height, size, seed, metadata, format, created_at, task_id, tag_count)
            SELECT md5(i::text) || md5((-i)::text), ({widths})[1 + mod(i, 8)], ({heights})[1 + mod(i, 8)],
                   50000 + floor(random() * 4950000)::bigint, floor(random() * 4294967295)::bigint,
                   CASE WHEN random() < 0.6 THEN jsonb_build_object('rating', 1 + floor(random() * 5)::int)
                        ELSE '{{}}'::jsonb END
                   || CASE WHEN random() < 0.3 THEN jsonb_build_object('is_favorite', random() < 0.5)
                           ELSE '{{}}'::jsonb END,
                   'png', timestamptz '2024-01-01 00:00:00+00' + random() * interval '365 days', NULL, 0
            FROM generate_series(1, %s) AS i""", [n_images])
        cursor.execute(f"""
            INSERT INTO image_tags (tag_name, image_hash, created_at)
            SELECT DISTINCT ({tags})[1 + floor(30 * power(random(), 2.2))::int], images.hash, now()
            FROM images, LATERAL generate_series(1, floor(random() * 6)::int + (images.width * 0)) AS k""")
    return n_model_tags, ImageTag.objects.count()


# Hand-written SQL: (page ids statement, total statement, follow-up statements given the page ids).
TAG_IDS = "SELECT name FROM tags WHERE folded IN ({})"
IMAGE_COLS = "hash, task_id, width, height, size, seed, metadata, format, created_at"
MODEL_COLS = ("hash, name, type, base_model, size, sourceUrl, metadata, description, cover_image_hash, status, "
              "error_message, file_ext, created_at, updated_at")


def quoted(names):
    return ", ".join(f"'{name}'" for name in names)


def image_tags_followup(ids):
    return [f"SELECT image_hash, tag_name FROM image_tags WHERE image_hash IN ({quoted(ids)}) ORDER BY id"]


def model_tags_followup(ids):
    return [f"SELECT model_hash, tag_name FROM model_tags WHERE model_hash IN ({quoted(ids)}) ORDER BY id"]


def include_tags_followup(table, column):
    def followup(ids):
        return [
            f"SELECT {column}, tag_name FROM {table} WHERE {column} IN ({quoted(ids)}) ORDER BY id",
            f"SELECT t.name, t.description, t.created_at, t.updated_at, "
            f"(SELECT uses FROM tag_usage WHERE tag_name = t.name AND link = 'model_tags'), "
            f"(SELECT uses FROM tag_usage WHERE tag_name = t.name AND link = 'image_tags'), "
            f"(SELECT uses FROM tag_usage WHERE tag_name = t.name AND link = 'task_tags') "
            f"FROM tags t WHERE t.name IN (SELECT tag_name FROM {table} WHERE {column} IN ({quoted(ids)}))",
        ]
    return followup


def has_tag(table, names):
    """`seq IN (entities carrying any of these tags)` by the integer row keys (core/row_keys.py), tag names
    compared case-folded."""
    return f"seq IN (SELECT entity_seq FROM {table} WHERE tag_name IN ({TAG_IDS.format(quoted(names))}))"


IMG_ANY = has_tag("image_tags", ["portrait", "landscape"])
IMG_NONE = "NOT " + has_tag("image_tags", ["nsfw"])
IMG_ALL = " AND ".join(has_tag("image_tags", [name]) for name in ("anime", "detailed"))

CASES = [
    {
        "name": "images: tags any+none, width>=768, -created_at, page 3",
        "url": "/api/images?" + urlencode({
            "filter[tags][any]": "Portrait,landscape", "filter[tags][none]": "nsfw", "filter[width][gte]": "768",
            "sort": "-created_at", "page[number]": "3", "page[size]": "50"}, safe="[],"),
        "where": f"{IMG_ANY} AND {IMG_NONE} AND width >= 768",
        "table": "images", "cols": IMAGE_COLS, "order": "created_at DESC, hash", "offset": 100, "limit": 50,
        "followup": image_tags_followup,
    },
    {
        "name": "images: tags all, size range, -size",
        "url": "/api/images?" + urlencode({
            "filter[tags][all]": "anime,detailed", "filter[size][gte]": "1000000", "filter[size][lt]": "4000000",
            "sort": "-size", "page[size]": "50"}, safe="[],"),
        "where": f"{IMG_ALL} AND size >= 1000000 AND size < 4000000",
        "table": "images", "cols": IMAGE_COLS, "order": "size DESC, hash", "offset": 0, "limit": 50,
        "followup": image_tags_followup,
    },
    {
        "name": "images: include=tags (default sort)",
        "url": "/api/images?include=tags",
        "where": "1", "table": "images", "cols": IMAGE_COLS, "order": "created_at DESC, hash", "offset": 0,
        "limit": 50, "followup": include_tags_followup("image_tags", "image_hash"),
    },
    {
        "name": "images: metadata.rating>=4, -metadata.rating",
        "url": "/api/images?" + urlencode({"filter[metadata.rating][gte]": "4", "sort": "-metadata.rating"},
                                          safe="[],"),
        "where": "json_type(metadata, '$.rating') IN ('integer', 'real') AND json_extract(metadata, '$.rating') >= 4",
        "table": "images", "cols": IMAGE_COLS,
        "order": "json_extract(metadata, '$.rating') DESC NULLS LAST, hash", "offset": 0, "limit": 50,
        "followup": image_tags_followup,
    },
    {
        "name": "images: sort=-tag_count",
        "url": "/api/images?sort=-tag_count",
        "where": "1", "table": "images", "cols": IMAGE_COLS,
        "order": "tag_count DESC, hash",
        "offset": 0, "limit": 50, "followup": image_tags_followup,
    },
    {
        "name": "images: default sort, page 500",
        "url": "/api/images?page[number]=500",
        "where": "1", "table": "images", "cols": IMAGE_COLS, "order": "created_at DESC, hash", "offset": 24950,
        "limit": 50, "followup": image_tags_followup,
    },
    {
        "name": "images: include=tags,task",
        "url": "/api/images?include=tags,task",
        "where": "1", "table": "images", "cols": IMAGE_COLS, "order": "created_at DESC, hash", "offset": 0,
        "limit": 50, "followup": include_tags_followup("image_tags", "image_hash"),
    },
    {
        "name": "models: lora, tags any anime, sort name",
        "url": "/api/models?" + urlencode({"filter[type]": "lora", "filter[tags][any]": "anime", "sort": "name"},
                                          safe="[],"),
        "where": "type = 'lora' AND " + has_tag("model_tags", ["anime"]),
        "table": "models", "cols": MODEL_COLS, "order": "name, hash", "offset": 0, "limit": 50,
        "followup": model_tags_followup,
    },
    {
        "name": "models: size>=1e9, base in SD1.5,SDXL, include=tags",
        "url": "/api/models?" + urlencode({"filter[size][gte]": "1000000000", "filter[base_model][in]": "SD1.5,SDXL",
                                           "include": "tags"}, safe="[],"),
        "where": "size >= 1000000000 AND base_model IN ('SD1.5', 'SDXL')",
        "table": "models", "cols": MODEL_COLS, "order": "created_at DESC, hash", "offset": 0, "limit": 50,
        "followup": include_tags_followup("model_tags", "model_hash"),
    },
    {
        "name": "tags: sort=-image_count",
        "url": "/api/tags?sort=-image_count",
        "where": "1", "table": "tags",
        "cols": "name, description, created_at, updated_at, " + ", ".join(
            f"COALESCE((SELECT uses FROM tag_usage WHERE tag_name = tags.name AND link = '{link}'), 0) AS {alias}"
            for link, alias in (("model_tags", "mc"), ("image_tags", "ic"), ("task_tags", "tc"))),
        "order": "ic DESC, name", "offset": 0, "limit": 50, "followup": lambda ids: [],
    },
]

def prompt_match(table, text):
    """Hand-written FTS5 condition: the rows of `table` whose prompt holds the words of `text` (core/prompt_search.py)."""
    from core.prompt_search import fts5_match, last_is_prefix, query_words

    match = fts5_match(query_words(text), last_is_prefix(text)).replace("'", "''")
    return f"seq IN (SELECT rowid FROM {table}_prompt_fts WHERE {table}_prompt_fts MATCH '{match}')"


def image_prompt(text):
    return f"({prompt_match('images', text)} OR task_id IN (SELECT id FROM tasks WHERE {prompt_match('tasks', text)}))"


def prompt_case(text, sort="-created_at", order="created_at DESC, hash"):
    return {
        "name": f"images: prompt contains '{text}', {sort}", "prompt": True,
        "url": "/api/images?" + urlencode({"filter[prompt][contains]": text, "sort": sort}, safe="[],"),
        "where": image_prompt(text), "table": "images", "cols": IMAGE_COLS, "order": order, "offset": 0,
        "limit": 50, "followup": image_tags_followup,
    }


TASK_COLS = "id, status, prompt, created_at"
CASES += [
    prompt_case("lighthouse"),  # one noun among 200 words
    prompt_case("misty castle"),  # two words, the last a prefix
    prompt_case("stormy harbour best qu"),  # four words: few rows
    prompt_case("misty"),  # the commonest word: most rows, the total counts them
    prompt_case("castle", sort="-size", order="size DESC, hash"),
    {
        "name": "tasks: prompt contains 'golden dragon'", "prompt": True,
        "url": "/api/tasks?" + urlencode({"filter[prompt][contains]": "golden dragon"}, safe="[],"),
        "where": prompt_match("tasks", "golden dragon"), "table": "tasks", "cols": TASK_COLS,
        "order": "created_at DESC, id", "offset": 0, "limit": 50, "followup": lambda ids: [],
    },
]

ESTIMATE_COUNT_CAP = int(os.environ.get("SDHOST_ESTIMATE_COUNT_CAP") or 1000)  # as the server reads it


def estimated(case):
    """The same query with `page[count]=estimate`: its hand-written total counts up to the same cap."""
    return {**case, "name": case["name"].replace("images: ", "images (estimate): "),
            "url": case["url"] + "&page%5Bcount%5D=estimate",
            "count_cap": case["offset"] + case["limit"] + ESTIMATE_COUNT_CAP}


CASES[2:2] = [estimated(case) for case in CASES[:2]]  # the broad tag filters, whose exact totals miss the target
CASES += [estimated(case) for case in CASES if case.get("prompt") and "misty" in case["name"]]  # the gallery's form


def hand_sql(case):
    select = (f"SELECT {case['cols']} FROM {case['table']} WHERE {case['where']} "
              f"ORDER BY {case['order']} LIMIT {case['limit']} OFFSET {case['offset']}")
    count = f"SELECT COUNT(*) FROM {case['table']} WHERE {case['where']}"
    if "count_cap" in case:
        count = f"SELECT COUNT(*) FROM (SELECT 1 FROM {case['table']} WHERE {case['where']} LIMIT {case['count_cap']})"
    return select, count


def run_hand(db, case):
    select, count = hand_sql(case)
    rows = db.execute(select).fetchall()
    ids = [row[0] for row in rows]
    if not (case["offset"] == 0 and len(rows) < case["limit"]):
        db.execute(count).fetchone()
    for statement in case["followup"](ids) if ids else []:
        db.execute(statement).fetchall()
    return ids


def page_statement(statements):
    """The engine's page query among a request's statements (tag filters look up tag names first)."""
    return next(statement for statement in statements if " LIMIT " in statement)


def write_figures(session, base, batch=1000, inserts=200):
    """Write costs with the maintained counts: one batch update tagging (then untagging) `batch` images through
    the API, and `inserts` image rows inserted one transaction each (a render completion's insert), in ms."""
    from django.db import connection, transaction

    from images_app.models import Image

    connection.close()  # the server wrote since; start from a fresh connection
    hashes = list(Image.objects.order_by("hash").values_list("hash", flat=True)[:batch])
    figures = {}
    for label, value in (("tag", True), ("untag", False)):
        body = {sha: {"tag_bench-a": value, "tag_bench-b": value} for sha in hashes}
        start = time.perf_counter()
        response = session.post(f"{base}/api/images", json=body)
        figures[f"{label} {batch} images (2 tags), one batch"] = (time.perf_counter() - start) * 1000
        assert response.status_code == 200 and not response.json()["failed"], response.text[:300]
    rng = random.Random(7)
    samples = []
    for n in range(inserts):
        image = Image(hash=f"{rng.getrandbits(256):064x}", width=512, height=512, size=1000 + n,
                      metadata={"rating": n % 5})
        start = time.perf_counter()
        with transaction.atomic():
            image.save(force_insert=True)
        samples.append((time.perf_counter() - start) * 1000)
    Image.objects.filter(size__gte=1000, size__lt=1000 + inserts, width=512, height=512).delete()
    samples.sort()
    figures["image insert p50"] = statistics.median(samples)
    figures["image insert p95"] = samples[int(0.95 * len(samples)) - 1]
    connection.close()
    return figures


def print_writes(figures):
    print("\nWrites (ms):")
    for label, value in figures.items():
        print(f"    {label:<45} {value:>8.2f}")


def page_ids(cursor):
    """The resource ids (column `hash`, or `name` for tags) of the engine's page query's rows."""
    names = [column[0] for column in cursor.description]
    index = next(names.index(key) for key in ("hash", "id", "name") if key in names)
    return [row[index] for row in cursor.fetchall()]


def app_connection(path):
    """A sqlite3 connection with the app's PRAGMAs (settings DATABASES OPTIONS init_command)."""
    from django.conf import settings

    db = sqlite3.connect(path)
    db.executescript(settings.DATABASES["default"]["OPTIONS"].get("init_command", ""))
    return db


def run_statements(db, statements):
    for statement in statements:
        db.execute(statement).fetchall()


def timed(fn, runs):
    samples = []
    for _ in range(3):
        fn()
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[max(0, int(round(0.95 * len(samples))) - 1)]


def calibration_ms():
    """A fixed SQLite workload, to compare machines (and load) between runs."""
    db = sqlite3.connect(":memory:")
    start = time.perf_counter()
    db.execute("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000) "
               "SELECT COUNT(*) FROM c").fetchall()
    return (time.perf_counter() - start) * 1000


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env, port):
    import requests

    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port), "--lifespan", "off",
         "--log-level", "warning", "sdhost.asgi:application"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        try:
            if requests.get(f"http://127.0.0.1:{port}/api/tags?page[size]=1", timeout=30).status_code == 200:
                return process
        except requests.RequestException:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"uvicorn did not start: {process.stderr.read().decode()[-2000:]}")


def capture_engine_sql():
    """{case name: the SQL statements the engine runs for the case's request}, captured in-process."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="localhost")  # a served Host name (ALLOWED_HOSTS)
    engine_sql = {}
    for case in CASES:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(case["url"])
        assert response.status_code == 200, (case["url"], response.content[:500])
        engine_sql[case["name"]] = [q["sql"] for q in ctx.captured_queries]
    connection.close()
    return engine_sql


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=int, default=10_000)
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--only", metavar="TEXT", help="run only the queries whose name contains TEXT")
    parser.add_argument("--no-analyze", action="store_true", help="skip ANALYZE after seeding")
    parser.add_argument("--keep", action="store_true", help="keep the seeded data folder")
    parser.add_argument("--postgres", help="PostgreSQL server URL: run on a throw-away database there (D40)")
    parser.add_argument("--sql-seed", action="store_true",
                        help="PostgreSQL: seed the images by INSERT ... SELECT (for 1M), not through the ORM")
    parser.add_argument("--reuse", metavar="DIR_OR_DB", help="SQLite: a data folder, PostgreSQL: a database name; "
                        "seeded on first use and kept, reused (migrated forward, not reseeded) later")
    args = parser.parse_args()
    if args.only:
        CASES[:] = [case for case in CASES if args.only in case["name"]]
    if args.postgres:
        return main_postgres(args)

    data_dir, reused = setup_django(args.reuse, "sdhost-query-bench-")
    import requests
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    n_model_tags, n_image_tags = seed_once(reused, args)
    db_path = settings.DATABASES["default"]["NAME"]
    if not args.no_analyze:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    print(f"seeded {args.models} models ({n_model_tags} tag links), {args.images} images ({n_image_tags} tag links) "
          f"in {time.perf_counter() - started:.1f}s; ANALYZE {'skipped' if args.no_analyze else 'run'}; db {db_path}")

    engine_sql = capture_engine_sql()  # the engine's own SQL, captured in-process on the same database file

    port = free_port()
    server = start_server(dict(os.environ), port)
    db = app_connection(db_path)
    session = requests.Session()
    results = []
    try:
        for case in CASES:
            url = f"http://127.0.0.1:{port}{case['url']}"
            body = session.get(url).json()
            api_ids = [obj["id"] for obj in body["data"]]
            hand_ids = run_hand(db, case)
            engine_ids = page_ids(db.execute(page_statement(engine_sql[case["name"]])))
            assert api_ids == hand_ids == engine_ids, (case["name"], api_ids[:3], hand_ids[:3], engine_ids[:3])
            assert api_ids, f"{case['name']}: empty page, pick other parameters"
            api_p50, api_p95 = timed(lambda: session.get(url).json(), args.runs)
            eng_p50, eng_p95 = timed(lambda: run_statements(db, engine_sql[case["name"]]), args.runs)
            hand_p50, hand_p95 = timed(lambda: run_hand(db, case), args.runs)
            results.append((case, body["meta"]["total"], len(engine_sql[case["name"]]),
                            api_p50, api_p95, eng_p50, eng_p95, hand_p50, hand_p95))
        writes = write_figures(session, f"http://127.0.0.1:{port}")
    finally:
        server.terminate()
        server.wait(10)

    print(f"\ncalibration: 1M-row recursive CTE in sqlite3 took {calibration_ms():.0f} ms; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    header = (f"{'query':<66} {'total':>6} {'stmts':>5} {'API p50':>8} {'API p95':>8} {'eng p50':>8} "
              f"{'eng p95':>8} {'hand p50':>8} {'hand p95':>8} {'eng/hand':>8} {'API/hand':>8}")
    print("\nTimes in ms; API = HTTP round trip through uvicorn incl. JSON; eng = the engine's SQL via sqlite3;"
          " hand = hand-written SQL via sqlite3 (ratios of p50)\n")
    print(header)
    print("-" * len(header))
    failures = []
    for case, total, stmts, api_p50, api_p95, eng_p50, eng_p95, hand_p50, hand_p95 in results:
        print(f"{case['name']:<66} {total:>6} {stmts:>5} {api_p50:>8.2f} {api_p95:>8.2f} {eng_p50:>8.2f} "
              f"{eng_p95:>8.2f} {hand_p50:>8.2f} {hand_p95:>8.2f} {eng_p50 / hand_p50:>8.2f} {api_p50 / hand_p50:>8.2f}")
        target = 50 if case.get("prompt") else 25
        if api_p95 >= target:
            failures.append(f"{case['name']}: API p95 {api_p95:.1f} ms >= {target} ms")
        if eng_p50 > 1.5 * hand_p50:
            failures.append(f"{case['name']}: engine SQL {eng_p50 / hand_p50:.2f}x hand-written SQL")

    print("\nEXPLAIN QUERY PLAN of the engine's page query:")
    for case in CASES:
        plan = db.execute("EXPLAIN QUERY PLAN " + page_statement(engine_sql[case["name"]])).fetchall()
        details = [row[3] for row in plan]
        indexed = [d for d in details if "USING" in d and "INDEX" in d]
        scans = [d for d in details if d.startswith("SCAN") and "USING" not in d]
        print(f"\n{case['name']}: indexes used: {'yes' if indexed else 'no'}; full scans: {scans or 'none'}")
        for detail in details:
            print(f"    {detail}")
    db.close()
    print_writes(writes)
    print("\nTargets: API p95 < 25 ms (prompt search: 50 ms), engine SQL <= 1.5x hand-written SQL:",
          "met" if not failures else "MISSED\n  " + "\n  ".join(failures))
    if args.keep or args.reuse:
        print(f"data kept in {data_dir}")
    else:
        shutil.rmtree(data_dir, ignore_errors=True)


def main_postgres(args):
    """The API and engine-SQL columns on PostgreSQL (see the module docstring)."""
    import psycopg

    name = args.reuse or f"sdhost_query_bench_{os.getpid()}"
    with psycopg.connect(f"{args.postgres}/postgres", autocommit=True) as conn:
        reused = bool(conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone())
        if not reused:
            conn.execute(f'CREATE DATABASE "{name}"')
    data_dir = tempfile.mkdtemp(prefix="sdhost-query-bench-")
    os.environ.update(SDHOST_DATA_DIR=data_dir, SDHOST_RENDER_WORKER="0", SDHOST_DATABASE_URL=f"{args.postgres}/{name}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sdhost.settings")
    try:
        import django

        django.setup()
        import requests
        from django.core.management import call_command
        from django.db import connection

        started = time.perf_counter()
        call_command("migrate", verbosity=0)
        n_model_tags, n_image_tags = seed_once(reused, args)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")  # what autovacuum does to a settled library: visibility map, statistics
        print(f"seeded {args.models} models ({n_model_tags} tag links), {args.images} images ({n_image_tags} tag "
              f"links) in {time.perf_counter() - started:.1f}s on PostgreSQL; VACUUM ANALYZE run")
        engine_sql = capture_engine_sql()
        port = free_port()
        server = start_server(dict(os.environ), port)
        session = requests.Session()
        results = []
        try:
            with psycopg.connect(os.environ["SDHOST_DATABASE_URL"]) as db:
                for case in CASES:
                    url = f"http://127.0.0.1:{port}{case['url']}"
                    body = session.get(url).json()
                    api_ids = [obj["id"] for obj in body["data"]]
                    engine_ids = page_ids(db.execute(page_statement(engine_sql[case["name"]])))
                    assert api_ids == engine_ids and api_ids, (case["name"], api_ids[:3], engine_ids[:3])
                    api = timed(lambda: session.get(url).json(), args.runs)
                    eng = timed(lambda: [db.execute(q).fetchall() for q in engine_sql[case["name"]]], args.runs)
                    results.append((case, body["meta"]["total"], len(engine_sql[case["name"]]), *api, *eng))
            writes = write_figures(session, f"http://127.0.0.1:{port}")
        finally:
            server.terminate()
            server.wait(10)
        print(f"\nload average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; times in ms; API = HTTP round trip "
              "through the server incl. JSON; eng = the engine's SQL via psycopg\n")
        header = f"{'query':<66} {'total':>6} {'stmts':>5} {'API p50':>8} {'API p95':>8} {'eng p50':>8} {'eng p95':>8}"
        print(header)
        print("-" * len(header))
        for case, total, stmts, api_p50, api_p95, eng_p50, eng_p95 in results:
            print(f"{case['name']:<66} {total:>6} {stmts:>5} {api_p50:>8.2f} {api_p95:>8.2f} {eng_p50:>8.2f} "
                  f"{eng_p95:>8.2f}")
        print_writes(writes)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
        if not args.reuse:
            with psycopg.connect(f"{args.postgres}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
