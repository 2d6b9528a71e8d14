"""The composer as a generation workspace (issue 26): the result pane with its live preview and the finished images'
buttons, the init image uploaded from a file or a drop, Ctrl+Enter, the draft kept over a reload, the prompt history,
batch count and seed controls."""

import re

import pytest
import requests
from PIL import Image as PILImage
from playwright.sync_api import expect

from images_app.models import Image
from images_app.storage import image_file_path
from tasks_app.models import Task
from tests.support.factories import make_image, make_model, png_bytes
from tests.support.worker import wait_done


@pytest.fixture
def tiny_checkpoint(tmp_path, transactional_db):
    from engine.tiny_models import write_model_file
    from models_app.services import import_model_file

    checkpoint, _ = import_model_file(write_model_file(tmp_path / "tiny.safetensors"), name="tiny")
    return checkpoint


def fill(page, prompt, **numbers):
    page.get_by_label("Prompt", exact=True).fill(prompt)
    form = page.locator("form.composer")
    for name, value in numbers.items():
        form.locator(f"[name={name}]").fill(value)
    page.get_by_label("Sampler").select_option("Euler")


def test_result_pane_shows_the_live_preview_then_the_images_with_their_buttons(ui, settings, tiny_checkpoint,
                                                                                 render_worker):
    settings.SDHOST = {**settings.SDHOST, "PREVIEW": "approx", "PREVIEW_EVERY": 1}  # a preview at every step
    page = ui.page
    ui.open("compose")
    ui.wait_for_queue_stream()
    # Every preview the pane shows, as it shows it (the render is quick: it may be gone by the time we look)
    page.evaluate("""window.previews = [];
      new MutationObserver(ms => ms.forEach(m => m.target.matches && m.target.matches('img.live-preview')
        && m.target.getAttribute('src') && window.previews.push(m.target.getAttribute('src'))))
        .observe(document.body, {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
      new MutationObserver(ms => ms.forEach(m => m.addedNodes.forEach(n => n.querySelectorAll &&
        n.querySelectorAll('img.live-preview[src]').forEach(i => window.previews.push(i.getAttribute('src'))))))
        .observe(document.body, {subtree: true, childList: true});""")
    fill(page, "a paper boat", width="64", height="64", steps="60", seed="11")
    page.get_by_role("button", name="Generate").click()
    pane = page.get_by_role("region", name="Results")
    card = pane.locator("article.result").first
    expect(card).to_have_attribute("data-task", re.compile(".+"))
    task_id = card.get_attribute("data-task")
    figure = pane.locator(f'article.result[data-task="{task_id}"] figure.result-image')
    expect(figure).to_have_count(1, timeout=120_000)
    assert wait_done(task_id) == "completed"
    previews = page.evaluate("window.previews")
    assert any(re.search(rf"/api/tasks/{task_id}/preview\?n=\d+$", url) for url in previews), previews
    image = Image.objects.get(task_id=task_id)
    expect(pane.get_by_role("status")).to_have_text("Finished: 1 image for a paper boat")  # said once, politely
    expect(figure).to_have_attribute("data-hash", image.hash)
    page.wait_for_function("img => img.complete && img.naturalWidth === 64", arg=figure.locator("img").element_handle())
    expect(figure.get_by_role("link", name="Download")).to_have_attribute("href", f"/api/images/{image.hash}/content")
    expect(figure.get_by_role("link", name="Open in the gallery")).to_have_attribute("href", f"#/gallery/{image.hash}")

    figure.get_by_label("Upscaler").select_option("Lanczos")  # upscale: a new task in the pane, twice the size
    figure.get_by_role("button", name="Upscale").click()
    upscaled = pane.locator("article.result").first
    expect(upscaled.locator("h3")).to_contain_text("Upscale")
    expect(upscaled.locator("figure.result-image")).to_have_count(1, timeout=120_000)
    big = Image.objects.get(hash=upscaled.locator("figure.result-image").get_attribute("data-hash"))
    assert (big.width, big.height) == (128, 128)

    page.get_by_label("Prompt", exact=True).fill("something else")
    figure.get_by_role("button", name="Send to image to image").click()  # carries the prompt and settings
    form = page.locator("form.composer")
    expect(page.get_by_label("Prompt", exact=True)).to_have_value("a paper boat")
    expect(form.locator("[name=init_image]")).to_have_value(image.hash)
    for name, value in {"seed": "11", "steps": "60", "width": "64", "height": "64"}.items():
        expect(form.locator(f"[name={name}]")).to_have_value(value)
    expect(form.locator("img.init-preview")).to_be_visible()
    page.get_by_label("Prompt", exact=True).fill("changed")
    figure = page.locator(f'figure.result-image[data-hash="{image.hash}"]')  # the pane is kept
    figure.get_by_role("button", name="Reuse parameters").click()
    expect(page.get_by_label("Prompt", exact=True)).to_have_value("a paper boat")

    figure.get_by_role("button", name="Inpaint").click()  # image to image, with the mask brush at hand
    expect(form.locator("canvas.mask-canvas")).to_be_visible()
    expect(page.get_by_label("Brush", exact=True)).to_be_focused()
    expect(form.locator("[name=init_image]")).to_have_value(image.hash)
    expect(page.get_by_label("Prompt", exact=True)).to_have_value("a paper boat")

    figure.get_by_role("link", name="Open in the gallery").click()
    expect(page.locator("dialog.detail")).to_be_visible()


def test_result_pane_is_beside_the_form_on_a_desktop_and_below_it_on_a_phone(ui, phone, tiny_checkpoint):
    for tab, side_by_side in ((ui, True), (phone, False)):
        tab.open("compose")
        form = tab.page.locator("form.composer").bounding_box()
        pane = tab.page.get_by_role("region", name="Results").bounding_box()
        if side_by_side:
            assert pane["x"] >= form["x"] + form["width"] and pane["y"] < form["y"] + 200
        else:
            assert pane["y"] >= form["y"] + form["height"] and abs(pane["x"] - form["x"]) < 2
        assert tab.page.evaluate("document.documentElement.scrollWidth <= innerWidth")


def test_init_image_from_a_chosen_file_or_a_drop_is_uploaded_and_used(ui, tiny_checkpoint, tmp_path):
    page = ui.page
    ui.open("compose")
    form = page.locator("form.composer")
    page.get_by_text("Image to image / inpainting").click()
    chosen = tmp_path / "chosen.png"
    chosen.write_bytes(png_bytes(96, 64, color=(10, 200, 30)))
    page.get_by_label("Init image", exact=True).set_input_files(str(chosen))
    expect(form.locator("[name=init_image]")).to_have_value(re.compile("^[0-9a-f]{64}$"))
    uploaded = Image.objects.get(hash=form.locator("[name=init_image]").input_value())
    assert (uploaded.width, uploaded.height) == (96, 64)
    expect(form.locator("[name=width]")).to_have_value("96")  # the size follows the picture
    expect(form.locator("img.init-preview")).to_be_visible()

    dropped = png_bytes(80, 72, color=(200, 20, 30))  # a file dropped on the zone
    page.evaluate("""bytes => {
        const data = new DataTransfer();
        data.items.add(new File([new Uint8Array(bytes)], 'dropped.png', {type: 'image/png'}));
        document.querySelector('.dropzone').dispatchEvent(new DragEvent('drop', {dataTransfer: data, bubbles: true, cancelable: true}));
    }""", list(dropped))
    expect(form.locator("[name=height]")).to_have_value("72")
    hash_ = form.locator("[name=init_image]").input_value()
    assert Image.objects.get(hash=hash_).width == 80

    fill(page, "repaint it", steps="2")
    form.locator("[name=denoising_strength]").fill("0.5")
    page.get_by_role("button", name="Generate").click()
    expect(page.locator(".toast").last).to_contain_text("Queued")
    task = Task.objects.get(id=form.get_attribute("data-last-task"))
    assert task.init_image_id == hash_ and task.denoising_strength == 0.5

    page.get_by_role("button", name="Remove the init image").click()
    expect(form.locator("[name=init_image]")).to_have_value("")


def test_ctrl_enter_draft_history_batch_count_and_seed_controls(ui, tiny_checkpoint):
    page = ui.page
    ui.open("compose")
    form = page.locator("form.composer")
    fill(page, "a fox in snow", width="65", steps="2", seed="100")
    page.get_by_label("Prompt", exact=True).press("Control+Enter")  # Ctrl+Enter generates (and is refused here)
    width = form.locator("[name=width]")
    expect(width).to_have_attribute("aria-invalid", "true")
    error = page.locator(f"#{width.get_attribute('id')}-error")
    expect(error).not_to_be_empty()
    width.fill("64")  # a corrected field loses its stale error at once
    expect(width).not_to_have_attribute("aria-invalid", "true")
    expect(error).to_be_empty()

    form.locator("[name=batch_size]").fill("2")
    page.get_by_label("Batch count").fill("3")
    before = set(Task.objects.values_list("id", flat=True))
    page.get_by_label("Prompt", exact=True).press("Control+Enter")
    expect(page.get_by_role("region", name="Results").locator("article.result")).to_have_count(3)
    new = Task.objects.exclude(id__in=before).order_by("created_at")
    assert [(t.prompt, t.batch_size, t.seed) for t in new] == [("a fox in snow", 2, 100), ("a fox in snow", 2, 102),
                                                               ("a fox in snow", 2, 104)]

    page.get_by_label("Prompt", exact=True).fill("an owl at night")  # the draft survives a reload
    page.get_by_label("Negative prompt").fill("blurry")
    page.reload()
    page.wait_for_selector("form.composer")
    expect(page.get_by_label("Prompt", exact=True)).to_have_value("an owl at night")
    expect(page.get_by_label("Negative prompt")).to_have_value("blurry")
    expect(form.locator("[name=steps]")).to_have_value("2")
    expect(page.get_by_label("Batch count")).to_have_value("3")
    expect(page.get_by_role("region", name="Results").locator("article.result")).to_have_count(3)  # the pane too

    history = page.get_by_label("Prompt history")  # the submitted prompt, picked back
    expect(history.locator("option")).to_have_count(2)
    history.select_option(label="a fox in snow")
    expect(page.get_by_label("Prompt", exact=True)).to_have_value("a fox in snow")
    page.evaluate("""() => localStorage.setItem('sdhost-prompt-history',
        JSON.stringify(Array.from({length: 60}, (_, i) => ({prompt: 'p' + i, negative_prompt: ''}))))""")
    page.get_by_label("Batch count").fill("1")
    page.get_by_label("Prompt", exact=True).press("Control+Enter")
    expect(page.get_by_role("region", name="Results").locator("article.result")).to_have_count(4)  # kept over the reload
    stored = page.evaluate("JSON.parse(localStorage.getItem('sdhost-prompt-history'))")
    assert len(stored) == 50 and stored[0]["prompt"] == "a fox in snow"

    page.get_by_role("button", name="Random seed").click()
    expect(form.locator("[name=seed]")).to_have_value("-1")
    expect(page.get_by_role("button", name="Reuse last seed")).to_be_disabled()  # nothing finished yet (no worker)


def test_image_to_image_from_the_gallery_carries_the_prompt_and_settings(ui, tiny_checkpoint):
    source = make_image(width=64, height=64, parameters="a lantern in the rain\nNegative prompt: dull\n"
                                                         "Steps: 9, Sampler: Euler, CFG scale: 5, Seed: 321, Size: 64x64")
    page = ui.page
    ui.open("gallery")
    page.locator(f'button.thumb[data-hash="{source.hash}"]').click()
    page.locator("dialog.detail").get_by_role("button", name="Image to image").click()
    form = page.locator("form.composer")
    expect(form.locator("[name=init_image]")).to_have_value(source.hash)
    expect(page.get_by_label("Prompt", exact=True)).to_have_value("a lantern in the rain")
    expect(page.get_by_label("Negative prompt")).to_have_value("dull")
    for name, value in {"steps": "9", "seed": "321", "cfg_scale": "5", "width": "64"}.items():
        expect(form.locator(f"[name={name}]")).to_have_value(value)
    expect(form.locator("[name=denoising_strength]")).to_have_value("0.75")


def mask_pixels(task_id):
    task = Task.objects.get(id=task_id)
    with PILImage.open(image_file_path(task.mask_image)) as mask:
        return mask.mode, mask.size, mask.convert("L")


def test_the_mask_painted_over_the_init_image_is_the_d36_mask(ui, tiny_checkpoint, tmp_path):
    page = ui.page
    ui.open("compose")
    form = page.locator("form.composer")
    page.get_by_text("Image to image / inpainting").click()
    picture = tmp_path / "init.png"
    picture.write_bytes(png_bytes(128, 64, color=(90, 90, 200)))
    page.get_by_label("Init image", exact=True).set_input_files(str(picture))
    canvas = form.locator("canvas.mask-canvas")
    expect(canvas).to_be_visible()
    page.wait_for_function("c => c.width === 128 && c.height === 64", arg=canvas.element_handle())
    canvas.evaluate("c => c.scrollIntoView({block: 'center'})")  # clear of the toasts at the bottom
    box = canvas.bounding_box()
    scale = box["width"] / 128  # screen pixels per image pixel

    def drag(points):
        page.mouse.move(box["x"] + points[0][0] * scale, box["y"] + points[0][1] * scale)
        page.mouse.down()
        for x, y in points[1:]:
            page.mouse.move(box["x"] + x * scale, box["y"] + y * scale, steps=5)
        page.mouse.up()

    page.get_by_label("Brush size").fill("16")
    drag([(8, 16), (120, 16)])  # a white band across the top
    page.get_by_label("Eraser").check()
    drag([(100, 16), (124, 16)])  # its right end erased
    fill(page, "a window", steps="2")
    page.get_by_role("button", name="Generate").click()
    expect(page.locator(".toast").last).to_contain_text("Queued")
    mode, size, mask = mask_pixels(form.get_attribute("data-last-task"))
    assert size == (128, 64) and mode in ("RGB", "RGBA", "L")
    assert mask.getpixel((40, 16)) == 255 and mask.getpixel((70, 12)) == 255  # painted: repaint
    assert mask.getpixel((40, 48)) == 0 and mask.getpixel((112, 16)) == 0  # never painted, erased: keep
    expect(form.locator("[name=mask_image]")).to_have_value(Task.objects.get(id=form.get_attribute("data-last-task")).mask_image_id)

    page.get_by_role("button", name="Invert mask").click()  # inverted: a new mask is uploaded
    first = form.get_attribute("data-last-task")
    page.get_by_role("button", name="Generate").click()
    expect(form).not_to_have_attribute("data-last-task", first)
    _, _, inverted = mask_pixels(form.get_attribute("data-last-task"))
    assert inverted.getpixel((40, 16)) == 0 and inverted.getpixel((40, 48)) == 255 and inverted.getpixel((112, 16)) == 255

    page.get_by_role("button", name="Clear mask").click()  # no mask: plain image to image
    expect(form.locator("[name=mask_image]")).to_have_value("")
    second = form.get_attribute("data-last-task")
    page.get_by_role("button", name="Generate").click()
    expect(form).not_to_have_attribute("data-last-task", second)
    task = Task.objects.get(id=form.get_attribute("data-last-task"))
    assert task.init_image_id and task.mask_image_id is None


DROP = """([bytes, name, selector]) => {
    const data = new DataTransfer();
    data.items.add(new File([new Uint8Array(bytes)], name, {type: 'image/png'}));
    document.querySelector(selector).dispatchEvent(new DragEvent('drop', {dataTransfer: data, bubbles: true, cancelable: true}));
}"""


def test_a_png_dropped_in_the_workspace_fills_the_form_with_its_parameters(ui, tiny_checkpoint, tmp_path):
    page = ui.page
    ui.open("compose")
    form = page.locator("form.composer")
    infotext = "a harbour at dusk\nNegative prompt: fog\nSteps: 13, Sampler: Euler, CFG scale: 6, Seed: 4242, Size: 64x72"
    page.evaluate(DROP, [list(png_bytes(64, 72, parameters=infotext)), "harbour.png", ".results"])  # on the pane
    expect(page.get_by_label("Prompt", exact=True)).to_have_value("a harbour at dusk")
    expect(page.get_by_label("Negative prompt")).to_have_value("fog")
    for name, value in {"steps": "13", "seed": "4242", "cfg_scale": "6", "height": "72"}.items():
        expect(form.locator(f"[name={name}]")).to_have_value(value)

    unicode = tmp_path / "unicode.png"  # an iTXt chunk (not Latin-1), chosen from the file field
    unicode.write_bytes(png_bytes(64, 64, parameters="café ☕ at noon\nSteps: 5, Sampler: Euler, CFG scale: 7, Seed: 1, Size: 64x64"))
    page.get_by_label("Read parameters from a PNG").set_input_files(str(unicode))
    expect(page.get_by_label("Prompt", exact=True)).to_have_value("café ☕ at noon")
    expect(form.locator("[name=steps]")).to_have_value("5")

    page.evaluate(DROP, [list(png_bytes(64, 64)), "plain.png", "textarea[name=negative_prompt]"])  # no parameters
    expect(page.locator(".toast.error")).to_contain_text("plain.png carries no generation parameters")
    expect(page.get_by_label("Prompt", exact=True)).to_have_value("café ☕ at noon")  # the form is kept


def test_the_queue_shows_prompt_size_and_batch_of_waiting_tasks(ui, live_url, tiny_checkpoint):
    body = {"checkpoint_hash": tiny_checkpoint.hash, "width": 64, "height": 72, "steps": 2, "sampler": "Euler"}
    kite = requests.post(f"{live_url}/api/tasks", json={**body, "prompt": "a red kite", "batch_size": 2}, timeout=10)
    page = ui.page
    ui.open("queue")
    row = page.locator(f'li[data-task="{kite.json()["task_id"]}"]')  # no worker: it waits
    expect(row.locator(".task-summary")).to_have_text("a red kite · 64×72 · batch 2")


def test_the_queue_shows_the_live_preview_and_links_finished_tasks_to_their_images(ui, live_url, settings,
                                                                                     tiny_checkpoint, render_worker):
    settings.SDHOST = {**settings.SDHOST, "PREVIEW": "approx", "PREVIEW_EVERY": 1}
    page = ui.page
    ui.open("queue")
    ui.wait_for_queue_stream()
    page.evaluate("""window.previews = [];
      new MutationObserver(() => document.querySelectorAll('img.queue-preview[src]').forEach(i =>
        window.previews.includes(i.getAttribute('src')) || window.previews.push(i.getAttribute('src'))))
        .observe(document.body, {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});""")
    body = {"checkpoint_hash": tiny_checkpoint.hash, "prompt": "a tin robot", "width": 64, "height": 64, "steps": 60,
            "sampler": "Euler", "batch_size": 2}
    task_id = requests.post(f"{live_url}/api/tasks", json=body, timeout=10).json()["task_id"]
    assert wait_done(task_id) == "completed"
    previews = page.evaluate("window.previews")
    assert any(re.search(rf"/api/tasks/{task_id}/preview\?n=\d+$", url) for url in previews), previews
    row = page.locator(f'.recent tr[data-task="{task_id}"][data-status="completed"]')
    expect(row).to_contain_text("64×64 ×2")
    links = row.get_by_role("link")
    expect(links).to_have_count(2)
    hashes = set(Image.objects.filter(task_id=task_id).values_list("hash", flat=True))
    assert {link.get_attribute("href") for link in links.all()} == {f"#/gallery/{h}" for h in hashes}
    links.first.click()
    expect(page.locator("dialog.detail")).to_be_visible()


def test_selects_show_their_full_labels_at_1280_px(ui, tiny_checkpoint):
    make_model(name="a LoRA with a rather long descriptive name v2", model_type="lora", base_model="SD1.5")
    page = ui.page
    ui.open("compose")
    page.get_by_text("Hires fix").click()
    clipped = page.evaluate("""() => {
        const probe = document.createElement('span');
        probe.style.cssText = 'position:absolute;visibility:hidden;white-space:pre';
        document.body.append(probe);
        const out = [];
        for (const select of document.querySelectorAll('form.composer select')) {
            probe.style.font = getComputedStyle(select).font;
            for (const option of select.options) {
                probe.textContent = option.textContent;
                // the arrow and the padding take about 30 px of the box
                if (probe.offsetWidth > select.clientWidth - 30) out.push([select.name || select.getAttribute('aria-label'), option.textContent, probe.offsetWidth, select.clientWidth]);
            }
        }
        probe.remove();
        return out;
    }""")
    assert clipped == []
