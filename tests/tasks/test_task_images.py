"""Every completed task lists its images, those whose bytes were already stored included (issue 8 item 18):
`filter[task_id]` on /api/images finds them; the image's `task` relationship stays its first producer."""

from images_app.models import Image
from tests.tasks.test_worker import submit, wait_done


def images_of(api, task_id):
    body = api.get("/api/images", {"filter[task_id]": task_id, "include": "task"}).json()
    return body["data"]


def test_identical_renders_both_list_the_image(api, checkpoints, render_worker):
    first = submit(api, checkpoints[0], seed=77)["task_id"]
    assert wait_done(first) == "completed"
    second = submit(api, checkpoints[0], seed=77)["task_id"]
    assert wait_done(second) == "completed"

    assert Image.objects.count() == 1  # D4: the same bytes are one image
    listed_first, listed_second = images_of(api, first), images_of(api, second)
    assert [o["id"] for o in listed_second] == [o["id"] for o in listed_first] == [Image.objects.get().hash]
    assert listed_second[0]["relationships"]["task"]["data"] == {"type": "task", "id": first}

    either = api.get("/api/images", {"filter[task_id][in]": f"{first},{second}"}).json()
    assert len(either["data"]) == 1 and either["meta"]["total"] == 1  # one row, not one per link
    others = api.get("/api/images", {"filter[not][task_id]": second}).json()
    assert others["data"] == []


def test_deleting_the_first_task_keeps_the_link_of_the_second(api, checkpoints, render_worker):
    from tasks_app.models import Task

    first = submit(api, checkpoints[0], seed=5)["task_id"]
    assert wait_done(first) == "completed"
    second = submit(api, checkpoints[0], seed=5)["task_id"]
    assert wait_done(second) == "completed"
    Task.objects.filter(id=first).delete()
    assert [o["id"] for o in images_of(api, second)] == [Image.objects.get().hash]
