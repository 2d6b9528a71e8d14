"""The web UI of the library features (#24 item 7) in a real browser: the gallery's prompt search, the models
page's scan of SDHOST_MODEL_ROOTS with live progress, Civitai sync by hash, and in-place files marked missing."""

import io
import re
import socket

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from images_app.models import Image
from models_app.models import SDModel
from sdhost.model_roots import parse_model_roots
from tests.support.factories import make_image
from tests.support.fake_civitai import png_bytes

pytestmark = pytest.mark.django_db(transaction=True)  # the live server and background threads need commits


def prompted(prompt, **kwargs):
    image = make_image(**kwargs)
    Image.objects.filter(pk=image.pk).update(metadata={"prompt": prompt})
    return image


def test_gallery_prompt_search_is_debounced_word_search_kept_across_pages(ui):
    page = ui.page
    fox = prompted("Misty pine forest at dawn, a red fox", width=32, height=32)
    prompted("a pineapple on a table", width=40, height=40)
    prompted("city lights at night", width=48, height=48)
    searches = []
    page.on("request", lambda r: "filter[prompt][contains]" in r.url and searches.append(r.url))
    ui.open("gallery")
    expect(page.locator("button.thumb")).to_have_count(3)

    box = page.get_by_label("Prompt contains")
    box.press_sequentially("pine fo", delay=40)  # no Apply: it applies itself once the typing pauses
    expect(page.locator("button.thumb")).to_have_count(1)
    expect(page.locator(f'button.thumb[data-hash="{fox.hash}"]')).to_be_visible()
    expect(page.locator("main")).to_contain_text("1 image")
    page.wait_for_timeout(600)
    assert len(searches) == 1, searches  # one query for the whole word, not one per keystroke
    assert re.search(r"filter\[prompt\]\[contains\]=pine%20fo(&|$)", searches[0])

    box.fill("pine")  # the last word is a prefix: the pineapple too
    expect(page.locator("button.thumb")).to_have_count(2)

    ui.go("models")  # kept while visiting another page, like the other filters
    ui.go("gallery")
    expect(page.get_by_label("Prompt contains")).to_have_value("pine")
    expect(page.locator("button.thumb")).to_have_count(2)
    page.get_by_role("button", name="Reset").click()
    expect(page.get_by_label("Prompt contains")).to_have_value("")
    expect(page.locator("button.thumb")).to_have_count(3)


def make(path, kind="checkpoint", seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    call_command("make_test_checkpoint", str(path), "--kind", kind, "--seed", str(seed), stdout=io.StringIO())
    return path


def test_without_model_roots_the_page_says_how_to_configure_them(ui, settings):
    settings.SDHOST = {**settings.SDHOST, "MODEL_ROOTS": []}
    ui.open("models")
    expect(ui.page.locator(".scan .no-roots")).to_contain_text("SDHOST_MODEL_ROOTS")
    expect(ui.page.get_by_role("button", name="Scan folders")).to_have_count(0)


@pytest.fixture
def model_root(tmp_path, settings):
    root = tmp_path / "webui" / "models"
    files = [make(root / "Stable-diffusion/dreamy.safetensors", seed=1),
             make(root / "Lora/inkStyle_v2.safetensors", "lora", seed=11)]
    (root / "Lora/notes.bin").write_bytes(b"not a model")
    settings.SDHOST = {**settings.SDHOST, "MODEL_ROOTS": parse_model_roots(f"{root}:a1111")}
    return root, files


def test_scan_folders_with_live_progress_then_the_library_shows_them_and_marks_a_missing_file(ui, model_root):
    root, (checkpoint, lora) = model_root
    page = ui.page
    ui.open("models")
    box = page.locator("section.scan")
    expect(box.get_by_role("list", name="Configured folders")).to_contain_text(f"{root} (a1111)")
    expect(page.locator("article.model")).to_have_count(0)
    page.evaluate("""() => { window.scanTexts = []; new MutationObserver(() => {
        const line = document.querySelector('.scan-status'); if (line) window.scanTexts.push(line.textContent);
    }).observe(document.body, {subtree: true, childList: true, characterData: true}); }""")
    box.get_by_role("button", name="Scan folders").click()
    status = box.get_by_role("status")
    expect(status).to_contain_text("Scan completed: 3 files, 2 new, 0 known, 1 skipped", timeout=60_000)
    assert any(text.startswith("Scanning folder 1 of 1") for text in page.evaluate("window.scanTexts"))
    expect(status).to_have_attribute("aria-live", "polite")
    box.get_by_text("1 skipped file").click()
    expect(box.locator(".skipped-files li")).to_contain_text("notes.bin")
    expect(page.locator("article.model")).to_have_count(2)  # the library refreshed by itself
    expect(box.get_by_role("button", name="Scan folders")).to_be_enabled()

    checkpoint.unlink()  # the user's file disappears: a rescan marks the model, with text
    box.get_by_role("button", name="Scan folders").click()
    expect(status).to_contain_text("1 missing", timeout=60_000)
    card = page.locator('article.model[data-status="missing"]')
    expect(card).to_contain_text("⚠ File missing")
    card.get_by_text("Details").click()
    expect(card.locator(".local-path")).to_have_text(f"{checkpoint} (file missing)")
    fine = page.locator('article.model[data-status="ready"]')
    fine.get_by_text("Details").click()
    expect(fine.locator(".local-path")).to_have_text(str(lora))
    expect(fine.locator(".flag")).to_have_count(0)

    make(lora, "lora", seed=12)  # other bytes under the same name
    box.get_by_role("button", name="Scan folders").click()
    expect(status).to_contain_text("1 changed", timeout=60_000)
    expect(page.locator('article.model[data-status="changed"]')).to_contain_text("⚠ File changed")


def test_civitai_sync_of_one_model_then_all_shows_each_state(ui, model_root, civitai, settings):
    root, (checkpoint, lora) = model_root
    civitai.add_model(20000, "Ink Style", type="LORA", tags=["ink"])
    civitai.add_version(20000, 20001, lora.read_bytes(), name="v2", base_model="SD 1.5", trained_words=["inkwash"],
                        file_name=lora.name, preview=png_bytes((10, 200, 10)))
    for path in (checkpoint, lora):
        call_command("import_model", "--in-place", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    lora_model = SDModel.objects.get(local_path=str(lora))
    other = SDModel.objects.get(local_path=str(checkpoint))
    page = ui.page
    ui.open("models")
    card = page.locator(f'article.model[data-hash="{lora_model.hash}"]')
    card.get_by_text("Details").click()
    expect(card.locator(".civitai-sync")).to_have_text("not looked up")
    card.get_by_role("button", name="Sync with Civitai").click()
    expect(card).to_contain_text("Ink Style v2")  # Civitai's name, after the list refreshed
    expect(card.locator(".flag.sync-synced")).to_have_text("Civitai: synced")

    page.get_by_role("button", name="Sync all").click()  # the checkpoint is the one left: Civitai does not know it
    expect(page.locator(".sync-status")).to_have_text("Civitai sync finished: 1 looked up", timeout=60_000)
    expect(page.locator(f'article.model[data-hash="{other.hash}"] .flag')).to_have_text("Civitai: not found")
    assert SDModel.objects.get(pk=other.hash).metadata["civitai_sync"]["state"] == "not_found"

    civitai.stop()  # Civitai unreachable: a recorded state, not an error
    settings.SDHOST = {**settings.SDHOST, "CIVITAI_BASE_URL": f"http://127.0.0.1:{closed_port()}"}
    SDModel.objects.filter(pk=other.hash).update(metadata={})
    page.reload()
    page.wait_for_selector("main > *")
    card = page.locator(f'article.model[data-hash="{other.hash}"]')
    card.get_by_text("Details").click()
    card.get_by_role("button", name="Sync with Civitai").click()
    expect(card.locator(".flag")).to_have_text("Civitai: offline")
    expect(card.locator(".civitai-sync")).to_contain_text("offline")


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_removing_an_in_place_model_says_its_file_stays(ui, model_root):
    root, (checkpoint, lora) = model_root
    call_command("import_model", "--in-place", str(lora), stdout=io.StringIO(), stderr=io.StringIO())
    page = ui.page
    ui.open("models")
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    page.locator("article.model").get_by_role("button", name="Delete").click()
    expect(page.locator("article.model")).to_have_count(0)
    assert asked == [f"Remove inkStyle_v2 from the library? Its file stays at {lora}."]
    assert lora.exists()
