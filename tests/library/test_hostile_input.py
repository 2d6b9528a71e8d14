"""Hostile input that used to answer 500 or slip through (issue 8, items 1, 2, 5, 6, 7): control characters in
stored text, numbers that are not finite, media types, safetensors headers that lie, images too large to decode."""

import io
import json
import struct

import pytest
import torch
from django.core.management import CommandError, call_command
from django.db import DataError, IntegrityError, transaction
from PIL import Image as PILImage
from safetensors.torch import save_file

from core.content_store import is_sha256
from core.metadata import METADATA_KEY_RE
from core.parsers import MAX_JSON_DEPTH
from images_app.models import Image
from models_app.models import SDModel
from models_app.services import ModelImportError, import_model_file
from system_app.models import Tag
from tasks_app.models import Task
from tests.support.api import assert_error
from tests.support.factories import make_model, png_bytes

pytestmark = pytest.mark.django_db

CONTROL = ["\x00", "\x01", "\x1b", "\x7f", "\x85", "\x9f"]


# --- item 1: control characters ------------------------------------------------------------------

@pytest.mark.parametrize("char", CONTROL + ["\t", "\n", "\r"])
@pytest.mark.parametrize("form", ["tags", "tag_key", "batch"])
@pytest.mark.parametrize("entity", ["models", "images"])
def test_control_characters_in_tag_names_are_400(api, entity, form, char):
    from tests.support.factories import make_image

    item = make_model() if entity == "models" else make_image()
    name = f"{char}abc"
    url, body, pointer = {
        "tags": (f"/api/{entity}/{item.hash}", {"tags": [name]}, "/tags"),
        "tag_key": (f"/api/{entity}/{item.hash}", {f"tag_{name}": True}, f"/tag_{name}"),
        "batch": (f"/api/{entity}", {item.hash: {"tags": ["fine", f"a{char}b"]}}, f"/{item.hash}/tags"),
    }[form]
    error = assert_error(api.post_json(url, body), 400, "invalid_request", pointer=pointer)
    assert f"U+{ord(char):04X}" in error["detail"]
    assert not Tag.objects.exists()


@pytest.mark.parametrize("key,value,pointer", [
    ("name", "a\x00b", "/name"),
    ("description", "line\x07bell", "/description"),
    ("base_model", "SD\x001.5", "/base_model"),
    ("source_url", "http://x/\x00", "/source_url"),
    ("note", "a\x00b", "/note"),
    ("nested", {"list": ["ok", {"deep": "x\x1by"}]}, "/nested/list/1/deep"),
    ("nested", {"k\x00": 1}, "/nested/k\x00"),
])
def test_control_characters_in_free_text_are_400_on_their_pointer(api, key, value, pointer):
    model = make_model(name="kept")
    assert_error(api.post_json(f"/api/models/{model.hash}", {key: value}), 400, "invalid_request", pointer=pointer)
    model.refresh_from_db()
    assert model.name == "kept" and model.metadata == {} and model.description is None


def test_tab_and_line_breaks_stay_allowed_in_free_text(api):
    model = make_model()
    body = {"description": "line one\r\nline two\tindented", "note": "a\nb"}
    assert api.post_json(f"/api/models/{model.hash}", body).status_code == 200
    model.refresh_from_db()
    assert model.description == body["description"] and model.metadata == {"note": "a\nb"}


@pytest.mark.parametrize("field,value,pointer", [
    ("prompt", "a cat\x00", "/prompt"),
    ("negative_prompt", "\x1b[31mred", "/negative_prompt"),
    ("tags", ["ok", "\x00abc"], "/tags/1"),
    ("tags", ["a\x00b"], "/tags/0"),
])
def test_control_characters_in_task_submissions_are_400(api, field, value, pointer):
    checkpoint = make_model()
    body = {"checkpoint_hash": checkpoint.hash, "prompt": "a cat", field: value}
    assert_error(api.post_json("/api/tasks", body), 400, "invalid_request", pointer=pointer)
    assert not Task.objects.exists() and not Tag.objects.exists()


@pytest.mark.parametrize("name", ["a\x00b", "\x00abc", "tab\there", "bell\x07"])
def test_database_refuses_what_the_validator_refuses(name):
    """SQLite's LENGTH() stops at NUL: 'a\\x00b' used to pass the length CHECK as 1 character. (PostgreSQL
    refuses NUL in any text value itself: a DataError.)"""
    with pytest.raises((IntegrityError, DataError)), transaction.atomic():
        Tag.objects.create(name=name)
    Tag.objects.create(name="ünïcödé 😀")  # the constraint leaves printable text alone
    assert list(Tag.objects.values_list("name", flat=True)) == ["ünïcödé 😀"]


def test_import_model_refuses_a_name_with_control_characters(tmp_path):
    path = tmp_path / "m.safetensors"
    save_file({"model.diffusion_model.x.weight": torch.zeros(2)}, str(path))
    with pytest.raises(ModelImportError, match="U\\+0000"):
        import_model_file(path, name="bad\x00name")
    assert not SDModel.objects.exists()


# --- item 2: numbers that are not finite -----------------------------------------------------------

@pytest.mark.parametrize("raw,pointer", [
    ('{"rating": 1e400}', "/rating"),
    ('{"rating": -1e400}', "/rating"),
    ('{"rating": NaN}', "/rating"),
    ('{"rating": Infinity}', "/rating"),
    ('{"stats": {"scores": [1, 2, -Infinity]}}', "/stats/scores/2"),
    ('{"a/b": {"x~y": [0, 1e999]}}', "/a~1b/x~0y/1"),
])
def test_non_finite_numbers_are_400_on_their_pointer(api, raw, pointer):
    model = make_model()
    error = assert_error(api.post_json(f"/api/models/{model.hash}", raw), 400, "invalid_request", pointer=pointer)
    assert "finite" in error["detail"]
    batch_pointer = f"/{model.hash}" + pointer
    batch = f'{{"{model.hash}": {raw}}}'
    assert_error(api.post_json("/api/models", batch), 400, "invalid_request", pointer=batch_pointer)
    model.refresh_from_db()
    assert model.metadata == {}


def test_non_finite_numbers_in_task_submissions_are_400(api):
    checkpoint = make_model()
    raw = json.dumps({"checkpoint_hash": checkpoint.hash, "prompt": "a cat"})[:-1] + ', "cfg_scale": 1e400}'
    assert_error(api.post_json("/api/tasks", raw), 400, "invalid_request", pointer="/cfg_scale")
    assert not Task.objects.exists()


# --- item 5: media types ----------------------------------------------------------------------------

def test_json_api_media_type_is_json(api):
    model = make_model()
    response = api.post_json(f"/api/models/{model.hash}", {"rating": 5}, content_type="application/vnd.api+json")
    assert response.status_code == 200, response.content
    model.refresh_from_db()
    assert model.metadata == {"rating": 5}


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "application/x-www-form-urlencoded"])
def test_other_media_types_are_415(api, content_type):
    model = make_model()
    response = api.post(f"/api/models/{model.hash}", '{"rating": 5}', content_type=content_type)
    assert_error(response, 415, "unsupported_media_type")
    assert_error(api.post("/api/images/upload", b"hello", content_type=content_type), 415, "unsupported_media_type")
    model.refresh_from_db()
    assert model.metadata == {}


def test_too_many_query_parameters_are_400_not_500(api):
    query = "&".join(f"p{i}=1" for i in range(10_050))
    assert_error(api.get(f"/api/models?{query}"), 400, "invalid_request")


# --- item 6: safetensors headers -------------------------------------------------------------------

def safetensors_file(path, header: dict | bytes, data: bytes):
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)
    return path


def test_deeply_nested_header_is_refused_clearly(tmp_path):
    header = b'{"__metadata__": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    path = safetensors_file(tmp_path / "deep.safetensors", header, b"")
    with pytest.raises(CommandError, match="nested too deeply"):
        call_command("import_model", str(path), "--type", "lora", stdout=io.StringIO(), stderr=io.StringIO())
    assert not SDModel.objects.exists()


@pytest.mark.parametrize("entry,data", [
    ({"dtype": "F32", "shape": [100000, 100000], "data_offsets": [0, 16]}, b"\0" * 16),  # shape claims 40 GB
    ({"dtype": "F16", "shape": [4], "data_offsets": [0, 16]}, b"\0" * 16),  # 8 bytes of data in 16
    ({"dtype": "F32", "shape": [-4], "data_offsets": [0, 16]}, b"\0" * 16),
    ({"dtype": "X99", "shape": [4], "data_offsets": [0, 16]}, b"\0" * 16),
])
def test_shapes_contradicting_the_file_are_refused_even_with_type(tmp_path, entry, data):
    path = safetensors_file(tmp_path / "lie.safetensors", {"model.diffusion_model.x.weight": entry}, data)
    with pytest.raises(CommandError, match="safetensors"):
        call_command("import_model", str(path), "--type", "checkpoint", stdout=io.StringIO(), stderr=io.StringIO())
    assert not SDModel.objects.exists()


def test_overlapping_tensor_ranges_are_refused(tmp_path):
    header = {"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
              "b": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}
    path = safetensors_file(tmp_path / "overlap.safetensors", header, b"\0" * 16)
    with pytest.raises(ModelImportError, match="overlap"):
        import_model_file(path, model_type="lora")


def test_real_safetensors_files_still_pass(tmp_path):
    path = tmp_path / "ok.safetensors"
    save_file({"model.diffusion_model.x.weight": torch.zeros(3, 5, dtype=torch.bfloat16),
               "empty": torch.zeros(0), "flag": torch.zeros(7, dtype=torch.bool)}, str(path))
    model, created = import_model_file(path, model_type="checkpoint")
    assert created and model.status == "ready"


# --- item 7: pixel limit ---------------------------------------------------------------------------

def big_png(width, height) -> bytes:
    """A PNG of width x height pixels that compresses to almost nothing (a decompression bomb)."""
    buffer = io.BytesIO()
    PILImage.new("1", (width, height)).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def test_images_above_the_pixel_limit_are_400_before_decoding(api, settings, tmp_path):
    settings.SDHOST = {**settings.SDHOST, "MAX_IMAGE_PIXELS": 100 * 100}
    data = big_png(101, 100)
    error = assert_error(api.post("/api/images/upload", data, content_type="image/png"), 400, "invalid_request")
    assert "MAX_IMAGE_PIXELS" in error["detail"]
    path = tmp_path / "big.png"
    path.write_bytes(data)
    with pytest.raises(CommandError, match="exceeds the limit"):
        call_command("import_image", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    assert not Image.objects.exists()
    assert api.post("/api/images/upload", big_png(100, 100), content_type="image/png").status_code == 201


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # Pillow warns above 89 MP on open
def test_default_pixel_limit_refuses_a_100_megapixel_png(api):
    data = big_png(10_000, 10_000)
    assert len(data) < 2 * 1024 * 1024
    assert_error(api.post("/api/images/upload", data, content_type="image/png"), 400, "invalid_request")
    assert not Image.objects.exists()
    assert api.post("/api/images/upload", png_bytes(), content_type="image/png").status_code == 201


def _nested(depth, leaf=1):
    value = leaf
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize("depth", [100, 930, 2000])
def test_metadata_nested_beyond_the_depth_limit_is_400(api, depth):
    """930 levels passed the parser and failed json.dumps on save: a 500 (#23 item 6). A body nests at most
    MAX_JSON_DEPTH levels (the body itself is level 1)."""
    model = make_model()
    body = '{"note": ' + '{"a": ' * depth + "1" + "}" * depth + "}"  # json.dumps gives out near 1,000 levels
    response = api.post(f"/api/models/{model.hash}", body, content_type="application/json")
    error = assert_error(response, 400, "invalid_request")
    assert f"at most {MAX_JSON_DEPTH} levels" in error["detail"]
    model.refresh_from_db()
    assert model.metadata == {}
    assert api.post_json(f"/api/models/{model.hash}", {"note": _nested(MAX_JSON_DEPTH - 1)}).status_code == 200
    model.refresh_from_db()
    assert model.metadata == {"note": _nested(MAX_JSON_DEPTH - 1)}
    deep_list = assert_error(api.post_json("/api/tasks", {"tags": [[[[]]]] * 2, "x": _nested(200, [])}), 400,
                             "invalid_request")
    assert deep_list["source"]["pointer"].startswith("/x/a/a/a")


@pytest.mark.parametrize("key", ["note\n", "a" * 64 + "\n"])
def test_a_metadata_key_with_a_trailing_line_feed_is_refused(api, key):
    """`$` matches before a final line feed: "note\\n" was stored as a metadata key (#23 item 6)."""
    model = make_model()
    assert_error(api.post_json(f"/api/models/{model.hash}", {key: 1}), 400, "invalid_request",
                 pointer=json.dumps(key)[1:-1].replace("\\n", "\n").join(["/", ""]))
    model.refresh_from_db()
    assert model.metadata == {}
    assert_error(api.get("/api/models", {f"filter[metadata.{key}]": "1"}), 400, "invalid_filter")


def test_validation_patterns_match_whole_strings():
    assert is_sha256("a" * 64) and not is_sha256("a" * 64 + "\n")
    assert not METADATA_KEY_RE.fullmatch("note\n") and METADATA_KEY_RE.fullmatch("note")
