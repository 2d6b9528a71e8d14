"""Cross-task batching within D7: tasks_app.scheduler.pick_batch (pure)."""

from hypothesis import given, settings
from hypothesis import strategies as st

from tasks_app.scheduler import QueueEntry, pick_batch, pick_for_worker, start_order


def same_checkpoint(lead, entry):
    return lead.checkpoint == entry.checkpoint


def test_takes_the_compatible_tasks_right_behind_the_pick_up_to_the_image_limit():
    entries = [QueueEntry(f"a{i}", "A", i) for i in range(5)] + [QueueEntry("b", "B", 9)]
    assert pick_batch(entries, None, 8, 3, same_checkpoint).ids == ("a0", "a1", "a2")
    assert pick_batch(entries, None, 8, 1, same_checkpoint).ids == ("a0",)
    assert pick_batch(entries, None, 8, 16, same_checkpoint).ids == ("a0", "a1", "a2", "a3", "a4")
    assert pick_batch([], None, 8, 4, same_checkpoint) is None


def test_an_incompatible_task_ends_the_batch_even_when_later_ones_would_fit():
    entries = [QueueEntry("a1", "A", 0), QueueEntry("b", "B", 1), QueueEntry("a2", "A", 2)]
    assert pick_batch(entries, None, 8, 4, same_checkpoint).ids == ("a1",)


def test_counts_images_not_tasks():
    entries = [QueueEntry("a1", "A", 0, images=2), QueueEntry("a2", "A", 1, images=2), QueueEntry("a3", "A", 2)]
    assert pick_batch(entries, None, 8, 4, same_checkpoint).ids == ("a1", "a2")
    assert pick_batch(entries, None, 8, 3, same_checkpoint).ids == ("a1",)
    big = [QueueEntry("a1", "A", 0, images=6), QueueEntry("a2", "A", 1)]
    assert pick_batch(big, None, 8, 4, same_checkpoint).ids == ("a1",)  # a task over the limit still runs, alone


def test_merged_tasks_count_as_passing_the_picks_passed_tasks():
    entries = [QueueEntry("a1", "A", 0, overtaken=5), QueueEntry("b1", "B", 1), QueueEntry("b2", "B", 2),
               QueueEntry("b3", "B", 3)]
    pick = pick_batch(entries, "B", 8, 16, same_checkpoint)
    assert pick.passed == ("a1",)
    assert pick.ids == ("b1", "b2", "b3")  # a1 ends at 8
    pick = pick_batch(entries, "B", 7, 16, same_checkpoint)
    assert pick.ids == ("b1", "b2")  # a third start would take a1 past 7


entry_lists = st.lists(
    st.tuples(st.sampled_from("AB"), st.integers(0, 4), st.booleans(), st.booleans(), st.integers(1, 3)),
    max_size=12,
).map(lambda rows: [
    QueueEntry(f"t{i}", checkpoint, queue_order=i, overtaken=overtaken, promoted_at=i if promoted else None,
               resumed=resumed, images=images)
    for i, (checkpoint, overtaken, promoted, resumed, images) in enumerate(rows)
])


@settings(max_examples=300, deadline=None)
@given(entry_lists, st.one_of(st.none(), st.sampled_from("AB")), st.integers(1, 4), st.integers(1, 6),
       st.sets(st.integers(0, 11)))
def test_batch_properties(entries, loaded, max_overtake, max_images, odd):
    """The batch is pick_for_worker's pick followed by a consecutive run of the start order (without the
    passed tasks), all compatible, within the image limit (unless the pick alone exceeds it), and no passed
    task ends beyond max_overtake."""
    def compatible(lead, entry):
        return lead.checkpoint == entry.checkpoint and int(entry.id[1:]) not in odd

    pick = pick_batch(entries, loaded, max_overtake, max_images, compatible)
    single = pick_for_worker(entries, loaded, max_overtake)
    if single is None:
        assert pick is None
        return
    assert (pick.id, pick.passed) == (single.id, single.passed)
    order = [e for e in start_order(entries) if e.id not in pick.passed]
    ids = [e.id for e in order]
    first = ids.index(pick.id)
    assert list(pick.ids) == ids[first:first + len(pick.ids)]
    by_id = {e.id: e for e in entries}
    lead = by_id[pick.id]
    assert all(compatible(lead, by_id[i]) for i in pick.merged)
    images = sum(by_id[i].images for i in pick.ids)
    assert images <= max_images or not pick.merged
    for passed in pick.passed:
        assert by_id[passed].overtaken + len(pick.ids) <= max_overtake
    # maximal: the next entry in order would break a rule
    following = order[first + len(pick.ids):]
    if following:
        nxt = following[0]
        assert (not compatible(lead, nxt) or images + nxt.images > max_images
                or any(by_id[p].overtaken + len(pick.ids) + 1 > max_overtake for p in pick.passed))
