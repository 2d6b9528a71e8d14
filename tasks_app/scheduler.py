"""Queue order of pending tasks (D7), as pure functions over plain records (no Django).

Start order:

0. Resumed tasks: tasks that were running when the worker stopped go first again.
1. Promoted tasks, latest promotion first; within one promote request in the listed order
   (`promote_rank` ascending).
2. The other pending tasks by `queue_order` ascending. A new task is placed directly after the
   last of them with the same checkpoint, else at the end; it never passes a task whose
   `overtaken` count has reached `max_overtake` and then goes right after the last such task.
   Every task it passes gets `overtaken + 1` and `queue_order + 1` (orders stay unique integers,
   so the new task takes the first passed task's old order).

Positions are 1-based indexes in this order; popping the first task or removing one never
reorders the others, so a position is the real start order barring later submissions and
promotions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence


@dataclass(frozen=True)
class QueueEntry:
    """What the scheduler needs to know about one pending task."""

    id: str
    checkpoint: str
    queue_order: int = 0
    overtaken: int = 0
    promoted_at: Any = None  # None = never promoted; else any orderable timestamp
    promote_rank: int = 0
    resumed: bool = False
    images: int = 1  # batch_size: what a merged batch (pick_batch) counts
    signature: str | None = None  # batch signature: equal ones may share a pipeline call; None never merges

    @property
    def promoted(self) -> bool:
        return self.promoted_at is not None


@dataclass(frozen=True)
class Placement:
    """Where a new non-promoted task goes: its `queue_order` and the ids it passes."""

    queue_order: int
    passed: tuple[str, ...] = field(default_factory=tuple)


def _group(entry: QueueEntry) -> int:
    if entry.resumed:
        return 0
    return 1 if entry.promoted else 2


def start_order(entries: Iterable[QueueEntry]) -> list[QueueEntry]:
    """The pending tasks in the order the worker will start them."""
    entries = list(entries)
    resumed = sorted((e for e in entries if _group(e) == 0), key=lambda e: (e.queue_order, e.id))
    promoted = [e for e in entries if _group(e) == 1]
    # Latest promotion first, then the request's listed order: two stable sorts.
    promoted.sort(key=lambda e: (e.promote_rank, e.id))
    promoted.sort(key=lambda e: e.promoted_at, reverse=True)
    regular = sorted((e for e in entries if _group(e) == 2), key=lambda e: (e.queue_order, e.id))
    return resumed + promoted + regular


def positions(entries: Iterable[QueueEntry]) -> dict[str, int]:
    """1-based start position of every pending task, by id."""
    return {entry.id: index for index, entry in enumerate(start_order(entries), start=1)}


def place_new(entries: Iterable[QueueEntry], checkpoint: str, max_overtake: int) -> Placement:
    """Placement of a new, non-promoted task using `checkpoint` among the pending `entries`."""
    regular: Sequence[QueueEntry] = [e for e in start_order(entries) if _group(e) == 2]
    if not regular:
        return Placement(queue_order=0)
    insert_at = len(regular)
    same = [i for i, e in enumerate(regular) if e.checkpoint == checkpoint]
    if same:
        insert_at = same[-1] + 1
        saturated = [i for i in range(insert_at, len(regular)) if regular[i].overtaken >= max_overtake]
        if saturated:
            insert_at = saturated[-1] + 1
    if insert_at == len(regular):
        return Placement(queue_order=regular[-1].queue_order + 1)
    passed = regular[insert_at:]
    return Placement(queue_order=passed[0].queue_order, passed=tuple(e.id for e in passed))


def apply_placement(entries: Iterable[QueueEntry], new: QueueEntry, placement: Placement) -> list[QueueEntry]:
    """The entries after adding `new` as placed (what the database holds after a submit)."""
    passed = set(placement.passed)
    updated = [
        QueueEntry(
            e.id, e.checkpoint, e.queue_order + 1, e.overtaken + 1, e.promoted_at, e.promote_rank, e.resumed,
            e.images, e.signature,
        ) if e.id in passed else e
        for e in entries
    ]
    updated.append(
        QueueEntry(new.id, new.checkpoint, placement.queue_order, 0, None, 0, False, new.images, new.signature)
    )
    return updated


@dataclass(frozen=True)
class Pick:
    """The task a worker starts next and the regular tasks it overtakes on the way (D41 affinity); `merged`:
    the tasks it renders together with it (pick_batch), in start order."""

    id: str
    passed: tuple[str, ...] = field(default_factory=tuple)
    merged: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ids(self) -> tuple[str, ...]:
        return (self.id, *self.merged)


def pick_for_worker(entries: Iterable[QueueEntry], loaded: str | None, max_overtake: int) -> Pick | None:
    """The next task for a worker whose device holds checkpoint `loaded` (None: nothing loaded).

    The head of the start order, unless the head is a regular task: then the first regular task
    using `loaded`, provided no task it would pass has reached `max_overtake` (D7's bound; each
    passed task counts one more overtake). Resumed and promoted tasks are never passed.
    """
    order = start_order(entries)
    if not order:
        return None
    head = order[0]
    if loaded is None or _group(head) != 2 or head.checkpoint == loaded:
        return Pick(head.id)
    for index, entry in enumerate(order):
        if entry.checkpoint == loaded:
            return Pick(entry.id, tuple(e.id for e in order[:index]))
        if entry.overtaken >= max_overtake:
            break  # it may not be passed again: nothing behind it starts before it
    return Pick(head.id)


def same_signature(lead: QueueEntry, entry: QueueEntry) -> bool:
    """Whether `entry` may share `lead`'s pipeline call: equal batch signatures (stored at submit), same checkpoint;
    a task without a signature is never merged."""
    return lead.signature is not None and lead.signature == entry.signature and lead.checkpoint == entry.checkpoint


def pick_batch(entries: Iterable[QueueEntry], loaded: str | None, max_overtake: int, max_images: int,
               compatible: Callable[[QueueEntry, QueueEntry], bool] = same_signature) -> Pick | None:
    """`pick_for_worker`'s task and the tasks right behind it in start order that can share its pipeline call.

    The merged tasks are the entries directly following the pick (the tasks it passed stay behind), taken while
    `compatible(pick, entry)` holds and the batch's images stay within `max_images`; the first one that does not
    fit ends the batch, so no task starts before one it would not have started before (D7). Starting together,
    every merged task passes the pick's passed tasks too: the batch stops before any of them would exceed
    `max_overtake`.
    """
    entries = list(entries)
    pick = pick_for_worker(entries, loaded, max_overtake)
    if pick is None:
        return None
    order = [e for e in start_order(entries) if e.id not in pick.passed]
    first = next(index for index, e in enumerate(order) if e.id == pick.id)
    lead = order[first]
    passed_overtaken = [e.overtaken for e in entries if e.id in pick.passed]
    taken, images = [], lead.images
    for entry in order[first + 1:]:
        starts = len(taken) + 2  # starts before the passed tasks with this entry
        if (images + entry.images > max_images or any(o + starts > max_overtake for o in passed_overtaken)
                or not compatible(lead, entry)):
            break
        taken.append(entry.id)
        images += entry.images
    return Pick(pick.id, pick.passed, tuple(taken))
