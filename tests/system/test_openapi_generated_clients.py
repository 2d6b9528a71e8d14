"""Clients generated from /api/schema by third-party generators, used against a live server as their users would
(issue 22 items 13 and 15): openapi-python-client (Python), openapi-typescript + openapi-fetch and hey-api/openapi-ts (TypeScript, whose
exact versions are locked in tests/system/ts_client/package-lock.json and installed with `npm ci` into a cache
folder, once per lock file). The first two filter with an operator through the declared `filter[ATTR][OP]`
parameters; hey-api's SDK follows an event stream, validating each event with zod (item 14)."""

import contextlib
import hashlib
import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.support.factories import make_model, make_task

TS_CLIENT = Path(__file__).parent / "ts_client"


@pytest.fixture(scope="module")
def schema_file(tmp_path_factory):
    from drf_spectacular.generators import SchemaGenerator

    path = tmp_path_factory.mktemp("schema") / "schema.json"
    path.write_text(json.dumps(SchemaGenerator().get_schema(request=None, public=True)))
    return path


@pytest.fixture
def library(db):
    """Four models: two large ones (one a VAE), two small; their names say which."""
    make_model(name="dream-large", content=b"d" * 4000)
    make_model(name="dream-small", content=b"s" * 100)
    make_model(name="dream-vae", model_type="vae", content=b"v" * 3000)
    make_model(name="plain-large", content=b"p" * 5000)


@contextlib.contextmanager
def python_client(schema_file, folder):
    """The package openapi-python-client generates (offline, into `folder`), imported as `sdhost_client`."""
    generator = shutil.which("openapi-python-client", path=f"{sys.prefix}/bin") or shutil.which("openapi-python-client")
    if generator is None:
        pytest.skip("openapi-python-client is not installed (pip install -e '.[test]')")
    subprocess.run([generator, "generate", "--path", str(schema_file), "--output-path", str(folder / "sdhost_client"),
                    "--meta", "none"], check=True, capture_output=True, timeout=120)
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module("sdhost_client")
    finally:
        sys.path.remove(str(folder))
        for name in [name for name in sys.modules if name.split(".")[0] == "sdhost_client"]:
            del sys.modules[name]


def test_python_client_lists_and_filters_with_operators(live_url, tmp_path, schema_file, library):
    with python_client(schema_file, tmp_path) as sdhost_client:
        models_list = importlib.import_module("sdhost_client.api.models.models_list")
        with sdhost_client.Client(base_url=live_url) as client:
            everything = models_list.sync(client=client)
            # filter[size][gte]=2000&filter[name][starts_with]=dream: the generator's names drop the brackets
            large = models_list.sync(client=client, filtersizegte=2000, filternamestarts_with="dream")
            not_vae = models_list.sync(client=client, filtermodel_typenot_in="vae,embedding", filtersizelt=4500)
    assert everything.meta.total == 4
    assert requests.get(live_url + everything.links.self_, timeout=10).status_code == 200
    assert sorted(model.attributes.name for model in large.data) == ["dream-large", "dream-vae"]
    assert sorted(model.attributes.name for model in not_vae.data) == ["dream-large", "dream-small"]


def ts_toolchain():
    """`node_modules` of tests/system/ts_client, installed with `npm ci` into a cache folder named after the lock."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed for the TypeScript client (Node 20: apt-get install nodejs npm)")
    lock = (TS_CLIENT / "package-lock.json").read_bytes()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sdhost-tests"
    installed = cache / f"ts-client-{hashlib.sha256(lock).hexdigest()[:16]}"
    if not (installed / "node_modules" / ".package-lock.json").exists():
        building = cache / f"{installed.name}.{os.getpid()}"
        shutil.rmtree(building, ignore_errors=True)
        building.mkdir(parents=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy(TS_CLIENT / name, building / name)
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=building, check=True,
                       capture_output=True, timeout=300)
        with contextlib.suppress(OSError):  # another run finished first: use its copy
            building.rename(installed)
        shutil.rmtree(building, ignore_errors=True)
    return node, installed / "node_modules"


def ts_project(folder, *names):
    """tests/system/ts_client's `names` copied into `folder` with the locked node_modules; returns `run(*args)`,
    which runs node with `args` there and returns its stdout, failing the test with node's output otherwise
    (`check=False`: returns the finished process)."""
    node, modules = ts_toolchain()
    for name in ("tsconfig.json", "package.json", *names):
        shutil.copy(TS_CLIENT / name, folder / name)
    (folder / "node_modules").symlink_to(modules, target_is_directory=True)

    def run(*args, check=True):
        done = subprocess.run([node, *args], cwd=folder, capture_output=True, text=True, timeout=120)
        if not check:
            return done
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    return run


def test_typescript_client_lists_and_filters_with_operators(live_url, tmp_path, schema_file, library):
    run = ts_project(tmp_path, "client.ts")
    run("node_modules/openapi-typescript/bin/cli.js", str(schema_file), "-o", "schema.d.ts")
    run("node_modules/typescript/bin/tsc", "-p", ".")  # type errors fail here
    result = json.loads(run("out/client.js", live_url))
    assert result["large"] == ["dream-large", "dream-vae"]  # sort=-size
    assert result["notVae"] == ["dream-large", "dream-small", "plain-large"]
    assert result["submissionFields"] == ["checkpoint_hash", "prompt"]


def test_hey_api_sdk_receives_validated_queue_events(live_url, tmp_path, schema_file):
    """Issue 22 item 14: hey-api's SSE client validates `JSON.parse(data)` of each event against the response schema
    (zod); a schema describing the frame (`data: string`) made it reject every event (docs/architecture.md)."""
    checkpoint = make_model(name="lighthouse")
    waiting = make_task(checkpoint)
    run = ts_project(tmp_path, "sse.ts", "tsconfig.heyapi.json", "openapi-ts.config.js")
    shutil.copy(schema_file, tmp_path / "schema.json")
    run("node_modules/@hey-api/openapi-ts/bin/run.js", "-f", "openapi-ts.config.js", "--silent")
    # tsc writes out/sse.js even when it finds type errors: run it first, so that the validator's verdict comes first
    type_check = run("node_modules/typescript/bin/tsc", "-p", "tsconfig.heyapi.json", check=False)
    result = json.loads(run("out/sse.js", live_url))
    assert result["errors"] == []  # the old frame schema: a ZodError per event ("expected string" at `data`)
    assert result["snapshot"] == {"queueLength": 1, "waiting": [str(waiting.id)], "running": None}
    assert type_check.returncode == 0, type_check.stdout  # the old frame schema: `{data: string}` is no QueueSnapshot
