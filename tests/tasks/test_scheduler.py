"""Queue order (D7): examples and Hypothesis properties of tasks_app.scheduler (pure, no database)."""

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from tasks_app.scheduler import QueueEntry, apply_placement, place_new, positions, start_order


class Queue:
    """A queue driven only through the scheduler's functions, like tasks_app.queue does with rows."""

    def __init__(self, max_overtake=8):
        self.max_overtake = max_overtake
        self.entries = []
        self.submitted = []  # ids in submission order
        self.ids = (f"t{i}" for i in itertools.count())
        self.clock = itertools.count(1)

    def submit(self, checkpoint):
        new = QueueEntry(next(self.ids), checkpoint)
        placement = place_new(self.entries, checkpoint, self.max_overtake)
        self.entries = apply_placement(self.entries, new, placement)
        self.submitted.append(new.id)
        return new.id

    def promote(self, ids):
        at = next(self.clock)
        rank = {task_id: i for i, task_id in enumerate(ids)}
        self.entries = [
            QueueEntry(e.id, e.checkpoint, e.queue_order, e.overtaken, at, rank[e.id], e.resumed)
            if e.id in rank else e
            for e in self.entries
        ]

    def cancel(self, task_id):
        self.entries = [e for e in self.entries if e.id != task_id]

    def pop(self):
        first = start_order(self.entries)[0]
        self.cancel(first.id)
        return first

    def order(self):
        return [e.id for e in start_order(self.entries)]

    def checkpoints(self):
        return [e.checkpoint for e in start_order(self.entries)]


def test_empty_queue_places_at_zero():
    assert place_new([], "A", 8).queue_order == 0
    assert start_order([]) == []


def test_new_task_joins_its_checkpoint_group():
    q = Queue()
    a1, b1 = q.submit("A"), q.submit("B")
    a2 = q.submit("A")
    assert q.order() == [a1, a2, b1]
    c1 = q.submit("C")
    a3 = q.submit("A")
    assert q.order() == [a1, a2, a3, b1, c1]
    assert positions(q.entries) == {a1: 1, a2: 2, a3: 3, b1: 4, c1: 5}


def test_unknown_checkpoint_goes_to_the_end():
    q = Queue()
    ids = [q.submit(c) for c in "ABC"]
    d = q.submit("D")
    assert q.order() == ids + [d]


def test_overtake_bound_stops_grouping():
    q = Queue(max_overtake=2)
    a1, b1 = q.submit("A"), q.submit("B")
    a2 = q.submit("A")  # passes b1 (count 1)
    a3 = q.submit("A")  # passes b1 (count 2 = max)
    a4 = q.submit("A")  # may not pass b1: goes right after it
    assert q.order() == [a1, a2, a3, b1, a4]
    counts = {e.id: e.overtaken for e in q.entries}
    assert counts[b1] == 2 and counts[a4] == 0
    a5 = q.submit("A")  # joins a4, passing nobody
    assert q.order() == [a1, a2, a3, b1, a4, a5]


def test_new_task_goes_after_the_last_saturated_task():
    q = Queue(max_overtake=1)
    a1, b1, c1 = q.submit("A"), q.submit("B"), q.submit("C")
    a2 = q.submit("A")  # passes b1, c1 -> both saturated
    b2 = q.submit("B")  # after b1 would pass c1 (saturated): goes after c1
    assert q.order() == [a1, a2, b1, c1, b2]
    a3 = q.submit("A")  # after a2 would pass b1 and c1 (both saturated): after c1, passing b2
    assert q.order() == [a1, a2, b1, c1, a3, b2]


def test_max_overtake_zero_is_fifo():
    q = Queue(max_overtake=0)
    ids = [q.submit(c) for c in "ABABCA"]
    assert q.order() == ids


def test_promoted_first_latest_promotion_first_listed_order_within():
    q = Queue()
    a1, b1, a2, c1, d1 = (q.submit(c) for c in "ABACD")
    assert q.order() == [a1, a2, b1, c1, d1]
    q.promote([c1, b1])
    assert q.order() == [c1, b1, a1, a2, d1]
    q.promote([d1])
    assert q.order() == [d1, c1, b1, a1, a2]
    q.promote([a2, c1])  # re-promoting moves c1 into the new request
    assert q.order() == [a2, c1, d1, b1, a1]


def test_new_task_never_joins_a_promoted_task():
    q = Queue()
    a1, b1 = q.submit("A"), q.submit("B")
    q.promote([a1])
    a2 = q.submit("A")
    assert q.order() == [a1, b1, a2]


def test_resumed_task_runs_first():
    entries = [
        QueueEntry("p", "A", 5, promoted_at=10),
        QueueEntry("r", "B", 7, resumed=True),
        QueueEntry("n", "A", 1),
    ]
    assert [e.id for e in start_order(entries)] == ["r", "p", "n"]
    placement = place_new(entries, "B", 8)
    assert placement.passed == ()  # the resumed B task is not a group to join


# -- properties -----------------------------------------------------------------------------

checkpoints = st.sampled_from("ABCD")
operations = st.lists(
    st.one_of(
        st.tuples(st.just("submit"), checkpoints),
        st.tuples(st.just("promote"), st.lists(st.integers(0, 30), min_size=1, max_size=3)),
        st.tuples(st.just("cancel"), st.integers(0, 30)),
        st.tuples(st.just("pop"), st.none()),
    ),
    max_size=60,
)


def run(ops, max_overtake):
    q = Queue(max_overtake)
    promoted = set()
    for op, arg in ops:
        pending = q.order()
        if op == "submit":
            q.submit(arg)
        elif op == "promote" and pending:
            ids = list(dict.fromkeys(pending[i % len(pending)] for i in arg))
            q.promote(ids)
            promoted.update(ids)
            assert q.order()[: len(ids)] == ids
        elif op == "cancel" and pending:
            victim = pending[arg % len(pending)]
            q.cancel(victim)
            assert q.order() == [t for t in pending if t != victim]
        elif op == "pop" and pending:
            assert q.pop().id == pending[0]
            assert q.order() == pending[1:]
    return q, promoted


@settings(max_examples=300, deadline=None)
@given(operations, st.integers(0, 4))
def test_order_is_a_permutation_with_promoted_first(ops, max_overtake):
    q, promoted = run(ops, max_overtake)
    order = q.order()
    assert sorted(order) == sorted(e.id for e in q.entries)
    assert len(set(order)) == len(order)
    flags = [task_id in promoted for task_id in order]
    assert flags == sorted(flags, reverse=True)  # all promoted ones before the others
    assert list(positions(q.entries).values()) == list(range(1, len(order) + 1))


@settings(max_examples=300, deadline=None)
@given(operations, st.integers(0, 4))
def test_overtake_bound_holds(ops, max_overtake):
    q, promoted = run(ops, max_overtake)
    regular = [t for t in q.order() if t not in promoted]
    submitted_at = {t: i for i, t in enumerate(q.submitted)}
    counts = {e.id: e.overtaken for e in q.entries}
    for index, task_id in enumerate(regular):
        later_ahead = sum(1 for other in regular[:index] if submitted_at[other] > submitted_at[task_id])
        assert later_ahead <= counts[task_id] <= max_overtake


@settings(max_examples=300, deadline=None)
@given(st.lists(checkpoints, max_size=40))
def test_checkpoint_runs_are_contiguous_when_the_bound_allows(submissions):
    q = Queue(max_overtake=len(submissions) + 1)
    for checkpoint in submissions:
        q.submit(checkpoint)
    runs = [c for c, _ in itertools.groupby(q.checkpoints())]
    assert len(runs) == len(set(runs))
    # Groups appear in order of their first submission.
    assert runs == list(dict.fromkeys(submissions))


@settings(max_examples=300, deadline=None)
@given(operations, st.integers(0, 4))
def test_positions_are_the_start_order(ops, max_overtake):
    q, _ = run(ops, max_overtake)
    expected = positions(q.entries)
    started = []
    while q.entries:
        started.append(q.pop().id)
    assert {task_id: i for i, task_id in enumerate(started, start=1)} == expected
