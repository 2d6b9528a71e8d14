"""The web UI in a real browser: compose → queue → gallery → tag, filter, rate, reuse; model import; errors."""

import re

import pytest
import requests
from playwright.sync_api import expect

from images_app.models import Image
from tasks_app.models import Task
from tests.support.civitai import SHA
from tests.support.factories import make_image, make_model, make_task
from tests.support.worker import wait_done

RENDER = {"width": "64", "height": "64", "steps": "2", "seed": "7"}


@pytest.fixture
def tiny_checkpoint(tmp_path, transactional_db):
    from engine.tiny_models import write_model_file
    from models_app.services import import_model_file

    checkpoint, _ = import_model_file(write_model_file(tmp_path / "tiny.safetensors"), name="tiny")
    return checkpoint


def compose(ui, prompt, **numbers):
    ui.go("compose")
    page = ui.page
    page.get_by_label("Prompt", exact=True).fill(prompt)
    for name, value in numbers.items():
        page.locator(f"form.composer [name={name}]").fill(value)
    page.get_by_label("Sampler").select_option("Euler")
    page.get_by_role("button", name="Generate").click()


def test_render_from_the_composer_then_find_rate_and_reuse_it_in_the_gallery(ui, tiny_checkpoint, render_worker):
    page = ui.page
    other = make_image(width=32, height=32)  # an untagged image the tag filter must hide
    ui.open("queue")
    page.evaluate("window.seen = []; addEventListener('sdhost:queue', e => window.seen.push(e.detail))")
    ui.wait_for_queue_stream()

    compose(ui, "a red fox, (snow:1.2)", **RENDER)
    expect(page.locator(".toast")).to_contain_text("Queued")
    expect(page.locator(".prompt-preview .tok-weight")).to_have_text("(snow:1.2)")  # D31 syntax highlighted
    task_id = page.locator("form.composer").get_attribute("data-last-task")
    assert Task.objects.get(id=task_id).prompt == "a red fox, (snow:1.2)"  # D31 syntax sent as written

    ui.go("queue")  # the live queue shows it finish
    expect(page.locator(f'.recent tr[data-task="{task_id}"][data-status="completed"]')).to_be_visible(timeout=120_000)
    assert wait_done(task_id) == "completed"
    seen = page.evaluate("window.seen")
    assert any(s["current_task"] and s["current_task"]["id"] == task_id for s in seen) or \
        any(task_id in [t["id"] for t in s["queue"]] for s in seen)
    image = Image.objects.get(task_id=task_id)

    ui.go("gallery")
    tile = page.locator(f'button.thumb[data-hash="{image.hash}"]')
    expect(tile).to_be_visible()
    expect(page.locator(f'button.thumb[data-hash="{other.hash}"]')).to_be_visible()
    thumbnail = tile.locator("img")
    expect(thumbnail).to_have_attribute("src", re.compile("/thumbnail"))  # set once the tile is in view
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle())
    assert thumbnail.evaluate("img => img.naturalWidth") == 64  # the 256 thumbnail of a 64 px image

    tile.click()  # tag it in the detail dialog
    dialog = page.locator("dialog.detail")
    expect(dialog.locator("pre.parameters")).to_contain_text("Seed: 7")
    dialog.get_by_label("Tags (comma separated)").fill("fox, ui-e2e")
    dialog.get_by_role("button", name="Save tags").click()
    expect(page.locator(".toast").last).to_contain_text("Tags saved")
    dialog.get_by_role("button", name="Close").click()

    page.get_by_label("Any of tags").fill("ui-e2e")  # find it by the tag
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("button.thumb")).to_have_count(1)
    expect(tile).to_be_visible()
    expect(page.locator("main")).to_contain_text("1 image")

    page.get_by_role("button", name="Reset").click()
    expect(page.locator("button.thumb")).to_have_count(2)
    expect(page.get_by_label("Any of tags")).to_have_value("")
    page.get_by_label("Model").select_option(label="tiny")  # the checkpoint's AutoV2 hash in the parameters
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("button.thumb")).to_have_count(1)
    expect(tile).to_be_visible()

    tile.click()
    dialog.get_by_role("radio", name="4 stars").click()
    expect(dialog.get_by_role("radio", name="4 stars")).to_have_attribute("aria-checked", "true")
    image.refresh_from_db()
    assert image.metadata["rating"] == 4

    dialog.get_by_role("button", name="Use these parameters").click()  # D35 into the composer
    expect(page.get_by_label("Prompt", exact=True)).to_have_value("a red fox, (snow:1.2)")
    form = page.locator("form.composer")
    for name, value in {"seed": "7", "width": "64", "height": "64", "steps": "2"}.items():
        expect(form.locator(f"[name={name}]")).to_have_value(value)
    expect(page.get_by_label("Sampler")).to_have_value("Euler")
    expect(form.locator(f'input[name=checkpoint_hash][value="{tiny_checkpoint.hash}"]')).to_be_checked()

    page.get_by_role("button", name="Generate").click()  # the same parameters render the same bytes
    expect(page.locator(".toast").last).to_contain_text("Queued")
    again = form.get_attribute("data-last-task")
    assert again != task_id and wait_done(again) == "completed"
    assert list(Image.objects.filter(task_links__task_id=again).values_list("hash", flat=True)) == [image.hash]


def test_finished_images_appear_in_the_open_gallery_without_reload(ui, live_url, tiny_checkpoint, render_worker):
    page = ui.page
    ui.open("gallery")
    expect(page.locator("main")).to_contain_text("No images match")
    ui.wait_for_queue_stream()
    page.evaluate("window.notReloaded = true")
    body = {"checkpoint_hash": tiny_checkpoint.hash, "prompt": "a lighthouse", "width": 64, "height": 64, "steps": 2,
            "sampler": "Euler", "batch_size": 2}
    task_id = requests.post(f"{live_url}/api/tasks", json=body, timeout=10).json()["task_id"]
    assert wait_done(task_id) == "completed"
    expect(page.locator("button.thumb")).to_have_count(2)
    hashes = {tile.get_attribute("data-hash") for tile in page.locator("button.thumb").all()}
    assert hashes == set(Image.objects.filter(task_id=task_id).values_list("hash", flat=True))
    assert page.evaluate("window.notReloaded") is True


def test_submission_errors_are_shown_at_their_fields(ui, tiny_checkpoint):
    page = ui.page
    ui.open("compose")
    form = page.locator("form.composer")
    prompt, width, steps = (form.locator(f"[name={n}]") for n in ("prompt", "width", "steps"))

    def error_of(control):
        return page.locator(f"#{control.get_attribute('id')}-error")

    compose(ui, "", width="64")
    expect(prompt).to_have_attribute("aria-invalid", "true")
    expect(prompt).to_be_focused()
    expect(error_of(prompt)).to_contain_text("empty")

    compose(ui, "a fox", width="65")  # one error per answer: the previous one is cleared
    expect(width).to_have_attribute("aria-invalid", "true")
    expect(error_of(width)).to_contain_text("8")
    expect(prompt).not_to_have_attribute("aria-invalid", "true")
    expect(error_of(prompt)).to_be_empty()

    compose(ui, "a fox", width="64", steps="500")
    expect(steps).to_have_attribute("aria-invalid", "true")
    expect(error_of(steps)).to_contain_text("200")

    compose(ui, "ok <lora:nowhere:0.5>", steps="2")  # an inline LoRA the library lacks (D34): at /prompt
    expect(error_of(prompt)).to_contain_text("nowhere")
    expect(page.locator(".prompt-preview .tok-lora")).to_have_text("<lora:nowhere:0.5>")
    expect(steps).not_to_have_attribute("aria-invalid", "true")
    assert not Task.objects.exists()


def test_import_from_civitai_shows_live_progress_and_deleting_a_model_in_use_shows_why_not(ui, civitai):
    page = ui.page
    civitai.throttle_bps = 1024 * 1024  # about two seconds for the 2 MB file: progress events in between
    busy = make_model(name="busy-checkpoint")
    make_task(busy)  # pending: the checkpoint is in use (D11)
    ui.open("models")
    page.evaluate("""() => { window.progress = []; new MutationObserver(() => {
        const bar = document.querySelector('.imports progress'); if (bar) window.progress.push(bar.value);
    }).observe(document.body, {subtree: true, childList: true, attributes: true}); }""")
    page.get_by_label("Model id or URL").fill("https://civitai.com/models/10391/dreamlike-valley?modelVersionId=88214")
    page.get_by_role("button", name="Import").click()
    row = page.locator(f'.imports li[data-hash="{SHA}"]')
    expect(row).to_be_visible()
    expect(row).to_have_attribute("data-status", "completed", timeout=60_000)
    expect(row).to_contain_text("Dreamlike Valley")
    progress = page.evaluate("window.progress")
    assert any(0 < value < 100 for value in progress), progress
    expect(page.locator(f'article.model[data-hash="{SHA}"]')).to_contain_text("ready")

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f'article.model[data-hash="{busy.hash}"]').get_by_role("button", name="Delete").click()
    expect(page.locator(".toast.error")).to_contain_text(re.compile("in use|used by", re.IGNORECASE))
    expect(page.locator(f'article.model[data-hash="{busy.hash}"]')).to_be_visible()


def test_model_metadata_and_tags_are_edited(ui):
    model = make_model(name="inkwash", model_type="lora", metadata={"trigger_words": ["ink"], "old": 1})
    page = ui.page
    ui.open("models")
    page.locator(f'article.model[data-hash="{model.hash}"]').get_by_role("button", name="Edit").click()
    dialog = page.locator("dialog.edit")
    dialog.get_by_label("Tags (comma separated)").fill("style, ink")
    dialog.get_by_label("Metadata (JSON object)").fill('{"trigger_words": ["ink", "wash"], "note": "soft"}')
    dialog.get_by_role("button", name="Save").click()
    expect(page.locator(f'article.model[data-hash="{model.hash}"] .tags')).to_contain_text("style")
    model.refresh_from_db()
    assert model.metadata == {"trigger_words": ["ink", "wash"], "note": "soft"}
    page.get_by_label("Type").select_option("checkpoint")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("article.model")).to_have_count(0)


def scroll_until(page, tiles, count):
    """Scroll the gallery down until it shows `count` tiles (each scroll may load the next page)."""
    for _ in range(20):
        page.mouse.wheel(0, 20_000)
        page.wait_for_timeout(200)
        if tiles.count() == count:
            break
    expect(tiles).to_have_count(count)


def test_infinite_scroll_pages_through_the_library(ui):
    hashes = [make_image(width=16, height=16).hash for _ in range(230)]
    page = ui.page
    ui.open("gallery")
    expect(page.locator("main")).to_contain_text("230 images")
    tiles = page.locator("button.thumb")
    assert tiles.count() < 230  # pages of 100, loaded as the grid nears the bottom
    scroll_until(page, tiles, 230)
    assert tiles.first.get_attribute("data-hash") == hashes[-1]  # newest first


def test_gallery_counts_past_the_cap_as_at_least(ui, settings):
    """The gallery asks page[count]=estimate: past the cap the count reads "N+" until the pages reach the end."""
    settings.SDHOST = {**settings.SDHOST, "ESTIMATE_COUNT_CAP": 10}
    for _ in range(130):
        make_image(width=16, height=16)
    page = ui.page
    ui.open("gallery")
    expect(page.locator("main")).to_contain_text("130 images")  # unfiltered: the maintained row count, exact
    page.get_by_label("Min width").fill("8")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("main")).to_contain_text("110+ images")  # the first page (100) and 10 past it
    scroll_until(page, page.locator("button.thumb"), 130)
    expect(page.locator("main")).to_contain_text("130 images")  # counted to the end: exact


def test_token_login_then_images_load_with_the_header(ui, settings):
    image = make_image(width=40, height=20)
    settings.SDHOST = {**settings.SDHOST, "API_TOKEN": "s3cret-token"}
    page = ui.page
    ui.open("gallery")
    token = page.get_by_label("API token")
    expect(token).to_be_focused()
    token.fill("wrong")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("form.login")).to_contain_text("not accepted")
    token.fill("s3cret-token")
    page.keyboard.press("Enter")
    tile = page.locator(f'button.thumb[data-hash="{image.hash}"] img')
    expect(tile).to_have_attribute("src", re.compile("^blob:"))
    page.wait_for_function("img => img.complete && img.naturalWidth === 40", arg=tile.element_handle())
    assert page.evaluate("sessionStorage.getItem('sdhost-token')") == "s3cret-token"
    ui.wait_for_queue_stream()  # EventSource cannot send the header: the stream took ?token=
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_label("API token")).to_be_visible()


BLOB_CACHE = """async (limit) => {
  const { blobCache } = await import(new URL("api.js", document.querySelector("script[type=module]").src));
  if (limit) blobCache.limit = limit;
  return Array.from(blobCache.entries.values(), (entry) => entry.objectUrl);
}"""
LOADS = """(url) => new Promise((resolve) => {
  const img = new Image();
  img.onload = () => resolve(true);
  img.onerror = () => resolve(false);
  img.src = url;
})"""  # an <img> (the page's policy lets images, not fetch(), read blob: URLs)


def test_the_tokened_image_cache_revokes_what_it_drops_but_never_a_shown_image(ui, settings):
    """With a token, images are blob: URLs (above); past the cache's bound the least recently used are revoked,
    those still on the page kept; one asked for again is fetched again. The bound is shrunk to 3 here."""
    wide = make_image(width=40, height=20)
    narrow = [make_image(width=16, height=16) for _ in range(7)]
    settings.SDHOST = {**settings.SDHOST, "API_TOKEN": "s3cret-token"}
    page = ui.page
    ui.open("gallery")
    page.evaluate(BLOB_CACHE, 3)
    page.get_by_label("API token").fill("s3cret-token")
    page.keyboard.press("Enter")
    images = page.locator("button.thumb img")
    expect(images).to_have_count(8)
    for i in range(8):
        expect(images.nth(i)).to_have_attribute("src", re.compile("^blob:"))
    cached = page.evaluate(BLOB_CACHE)
    assert len(cached) == 8  # past the bound, but every one is shown

    page.get_by_label("Min width").fill("24")  # the wide image only: the other seven leave the page
    page.get_by_role("button", name="Apply").click()
    expect(images).to_have_count(1)
    shown = page.locator(f'button.thumb[data-hash="{wide.hash}"] img')
    page.wait_for_function("img => img.complete && img.naturalWidth === 40", arg=shown.element_handle())
    kept = page.evaluate(BLOB_CACHE)
    assert len(kept) == 3 and shown.get_attribute("src") in kept
    for url in cached:
        assert page.evaluate(LOADS, url) == (url in kept), url  # what the cache dropped is revoked

    page.get_by_role("button", name="Reset").click()  # all eight again: the dropped ones are fetched again
    expect(images).to_have_count(8)
    for image in [wide, *narrow]:
        tile = page.locator(f'button.thumb[data-hash="{image.hash}"] img')
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=tile.element_handle())
    assert len(page.evaluate(BLOB_CACHE)) == 8


def test_every_page_fits_a_phone_and_works_from_the_keyboard(phone):
    make_image(width=64, height=64)
    make_model(name="phone-checkpoint")
    page = phone.page
    phone.open("gallery")
    for route in ("gallery", "compose", "queue", "models"):
        phone.go(route)
        page.wait_for_timeout(300)
        assert page.evaluate("document.documentElement.scrollWidth <= innerWidth + 1"), route
    phone.go("gallery")
    page.locator("a.skip").focus()
    page.keyboard.press("Tab")  # the brand link, then the navigation
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(page.locator("nav a", has_text="Create")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("nav a[aria-current=page]")).to_have_text("Create")


def test_the_queue_promotes_and_cancels_waiting_tasks(ui, live_url):
    from tests.tasks.test_tasks_api import make_model as ready_model  # a ready row; no worker: tasks wait

    alpha, beta = ready_model("alpha"), ready_model("beta")
    page = ui.page
    ui.open("queue")
    expect(page.locator("main")).to_contain_text("Nothing waiting")
    ui.wait_for_queue_stream()
    ids = [requests.post(f"{live_url}/api/tasks", json={"checkpoint_hash": c.hash, "prompt": "p"}, timeout=10).json()["task_id"]
           for c in (alpha, beta, alpha)]
    rows = page.locator("ol.waiting li")
    expect(rows).to_have_count(3)  # live: no reload
    expect(page.locator("#queue-badge")).to_have_text("3")
    assert [row.get_attribute("data-task") for row in rows.all()] == [ids[0], ids[2], ids[1]]  # D7 grouping

    page.locator(f'li[data-task="{ids[1]}"]').get_by_role("button", name=re.compile("^Promote")).click()
    expect(rows.first).to_have_attribute("data-task", ids[1])
    expect(rows.first.locator(".position")).to_have_text("#1")

    page.locator(f'li[data-task="{ids[0]}"]').get_by_role("button", name=re.compile("^Cancel")).click()
    expect(rows).to_have_count(2)
    expect(page.locator("#queue-badge")).to_have_text("2")
    assert Task.objects.get(id=ids[0]).status == "cancelled"
    expect(page.locator(f'.recent tr[data-task="{ids[0]}"][data-status="cancelled"]')).to_be_visible()


def test_image_to_image_with_an_uploaded_mask_from_the_gallery(ui, tiny_checkpoint, tmp_path):
    from tests.support.factories import png_bytes

    source = make_image(width=96, height=64)
    mask = tmp_path / "mask.png"
    mask.write_bytes(png_bytes(96, 64, color=(255, 255, 255)))
    page = ui.page
    ui.open("gallery")
    page.locator(f'button.thumb[data-hash="{source.hash}"]').click()
    page.locator("dialog.detail").get_by_role("button", name="Image to image").click()
    form = page.locator("form.composer")
    expect(form.locator("[name=init_image]")).to_have_value(source.hash)
    expect(form.locator("[name=width]")).to_have_value("96")
    form.locator("[name=mask_file]").set_input_files(str(mask))
    expect(form.locator("[name=mask_image]")).to_have_value(re.compile("^[0-9a-f]{64}$"))
    form.locator("[name=denoising_strength]").fill("0.4")
    page.get_by_label("Prompt", exact=True).fill("repaint the sky")
    page.get_by_role("button", name="Generate").click()
    expect(page.locator(".toast").last).to_contain_text("Queued")
    task = Task.objects.get(id=form.get_attribute("data-last-task"))
    assert task.init_image_id == source.hash and task.denoising_strength == 0.4
    assert task.mask_image_id == form.locator("[name=mask_image]").input_value()
    assert Image.objects.get(pk=task.mask_image_id).width == 96


def test_hires_and_add_on_models_from_the_composer(ui, tiny_checkpoint):
    lora = make_model(name="inkwash-lora", model_type="lora", base_model="SD1.5")
    page = ui.page
    ui.open("compose")
    page.get_by_label("Prompt", exact=True).fill("a castle")
    page.get_by_label("LoRA to add").select_option(label="inkwash-lora")
    form = page.locator("form.composer")
    form.locator("[name=weight-0]").fill("3")  # out of range (D9): the error goes to that row's weight
    page.locator("summary", has_text="Hires fix").click()
    page.get_by_label("Upscale and refine").check()
    form.locator("[name=hires_scale]").fill("2")
    form.locator("[name=width]").fill("64")
    form.locator("[name=height]").fill("64")
    page.get_by_role("button", name="Generate").click()
    expect(form.locator("[name=weight-0]")).to_have_attribute("aria-invalid", "true")
    form.locator("[name=weight-0]").fill("0.6")
    page.get_by_role("button", name="Generate").click()
    expect(page.locator(".toast").last).to_contain_text("Queued")
    task = Task.objects.get(id=form.get_attribute("data-last-task"))
    assert task.hires["scale"] == 2 and task.hires["upscaler"] == "Latent"
    assert [(m.model_id, m.weight) for m in task.task_models.all()] == [(lora.hash, 0.6)]


def test_prompt_syntax_is_highlighted_and_kept_as_typed(ui):
    ui.open("gallery")
    prompt = r"a (red:1.3) fox BREAK [blurry] (sharp) \(literal\) <lyco:ink:0.5> BREAKFAST"
    parts = ui.page.evaluate("""async (text) => {
        const { highlightPrompt } = await import('/static/ui/composer.js');
        return highlightPrompt(text).map((n) => (typeof n === 'string' ? ['', n] : [n.className, n.textContent]));
    }""", prompt)
    assert "".join(text for _, text in parts) == prompt  # nothing added, dropped or changed
    assert [part for part in parts if part[0]] == [
        ["tok-weight", "(red:1.3)"], ["tok-break", "BREAK"], ["tok-deemphasis", "[blurry]"],
        ["tok-emphasis", "(sharp)"], ["tok-lora", "<lyco:ink:0.5>"]]


def test_the_content_security_policy_blocks_inline_scripts(ui):
    ui.open("gallery")
    ui.page.evaluate("""() => { const s = document.createElement('script');
        s.textContent = 'window.injected = true'; document.body.append(s); }""")
    ui.page.wait_for_timeout(200)
    assert ui.page.evaluate("window.injected") is None
    assert any("Content Security Policy" in error for error in ui.errors), ui.errors  # and it is reported
    ui.errors.clear()
