"""The web UI of the library features (#24 item 7) in a real browser: the gallery's prompt search, the models
page's scan of SDHOST_MODEL_ROOTS with live progress, Civitai sync by hash, and in-place files marked missing."""

import io
import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from images_app.models import Image
from tests.support.factories import make_image

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
