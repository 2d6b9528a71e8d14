"""Affinity of several workers (D41) within D7's overtake bound: tasks_app.scheduler.pick_for_worker (pure)."""

from hypothesis import given, settings
from hypothesis import strategies as st

from tasks_app.scheduler import QueueEntry, pick_for_worker, start_order


def test_prefers_the_loaded_checkpoint_and_counts_the_passed_tasks():
    entries = [QueueEntry("a1", "A", 0), QueueEntry("b1", "B", 1), QueueEntry("a2", "A", 2)]
    assert pick_for_worker(entries, "B", 8).id == "b1"
    assert pick_for_worker(entries, "B", 8).passed == ("a1",)
    assert pick_for_worker(entries, "A", 8).id == "a1"
    assert pick_for_worker(entries, None, 8).id == "a1"
    assert pick_for_worker(entries, "C", 8).id == "a1"  # nothing for its checkpoint: the head
    assert pick_for_worker([], "A", 8) is None


def test_never_passes_a_task_at_its_bound():
    entries = [QueueEntry("a1", "A", 0, overtaken=8), QueueEntry("b1", "B", 1)]
    assert pick_for_worker(entries, "B", 8).id == "a1"
    entries = [QueueEntry("a1", "A", 0, overtaken=7), QueueEntry("c1", "C", 1, overtaken=8), QueueEntry("b1", "B", 2)]
    assert pick_for_worker(entries, "B", 8).id == "a1"  # b1 would pass c1, which is saturated
    assert pick_for_worker(entries, "C", 8).passed == ("a1",)


def test_resumed_and_promoted_tasks_go_first_whatever_is_loaded():
    entries = [QueueEntry("b1", "B", 0), QueueEntry("a1", "A", 1, promoted_at=5)]
    assert pick_for_worker(entries, "B", 8).id == "a1"
    entries = [QueueEntry("b1", "B", 0), QueueEntry("r", "A", 3, resumed=True)]
    assert pick_for_worker(entries, "B", 8).id == "r"


entry_lists = st.lists(
    st.tuples(st.sampled_from("ABC"), st.integers(0, 4), st.booleans(), st.booleans()), max_size=12,
).map(lambda rows: [
    QueueEntry(f"t{i}", checkpoint, queue_order=i, overtaken=overtaken, promoted_at=i if promoted else None,
               resumed=resumed)
    for i, (checkpoint, overtaken, promoted, resumed) in enumerate(rows)
])


@settings(max_examples=300, deadline=None)
@given(entry_lists, st.one_of(st.none(), st.sampled_from("ABC")), st.integers(1, 4))
def test_pick_properties(entries, loaded, max_overtake):
    pick = pick_for_worker(entries, loaded, max_overtake)
    order = start_order(entries)
    if not order:
        assert pick is None
        return
    ids = [e.id for e in order]
    chosen = order[ids.index(pick.id)]
    # the head, or a task for the loaded checkpoint
    assert pick.id == ids[0] or chosen.checkpoint == loaded
    # it passes exactly the tasks before it, none of them resumed, promoted or at the bound
    assert list(pick.passed) == ids[:ids.index(pick.id)]
    for passed in order[:len(pick.passed)]:
        assert not passed.resumed and not passed.promoted and passed.overtaken < max_overtake
    # without a loaded checkpoint, the start order is kept
    if loaded is None:
        assert pick.id == ids[0] and pick.passed == ()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from("ABC"), min_size=1, max_size=30), st.integers(1, 3))
def test_a_worker_draining_the_queue_never_lets_a_task_be_passed_beyond_the_bound(checkpoints, max_overtake):
    """A worker with "A" loaded takes tasks one by one; every passed task's count stays within the bound."""
    entries = [QueueEntry(f"t{i}", c, queue_order=i) for i, c in enumerate(checkpoints)]
    while entries:
        pick = pick_for_worker(entries, "A", max_overtake)
        entries = [
            QueueEntry(e.id, e.checkpoint, e.queue_order, e.overtaken + (e.id in pick.passed))
            for e in entries if e.id != pick.id
        ]
        assert all(e.overtaken <= max_overtake for e in entries)
