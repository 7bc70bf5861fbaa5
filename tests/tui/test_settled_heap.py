"""``SettledHeap`` freezes what survives a full collection while held, and lets it go when the
last holder releases, except what the process froze on its own; garbage is still collected."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from looplet_tui.live.heap import SettledHeap


class Node:
    """A reference-cycle participant the collector must be able to free."""

    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture(autouse=True)
def clean_freezer() -> Iterator[None]:
    assert gc.get_freeze_count() == 0, "the test process froze objects before this test"
    yield
    gc.unfreeze()


def test_a_full_collection_while_held_freezes_the_survivors_and_release_lets_them_go() -> None:
    heap = SettledHeap()
    kept = [Node() for _ in range(100)]
    heap.hold()
    try:
        gc.collect()
        assert gc.get_freeze_count() >= len(kept)
        assert gc.is_tracked(kept[0])
    finally:
        heap.release()
    assert gc.get_freeze_count() == 0


def test_nothing_is_frozen_before_a_full_collection_or_after_release() -> None:
    heap = SettledHeap()
    heap.hold()
    try:
        gc.collect(1)  # a young collection: the freezer waits for a full one
        assert gc.get_freeze_count() == 0
    finally:
        heap.release()
    gc.collect()
    assert gc.get_freeze_count() == 0


def test_cycles_that_die_while_held_are_garbage_collected_after_release() -> None:
    heap = SettledHeap()
    a, b = Node(), Node()
    a.other, b.other = b, a
    gone = weakref.ref(a)
    heap.hold()
    try:
        gc.collect()  # a and b survive this one, live: frozen now
        del a, b
        gc.collect()
        assert gone() is not None  # a frozen cycle waits for the release
    finally:
        heap.release()
    gc.collect()
    assert gone() is None


def test_cycles_that_die_before_a_full_collection_are_freed_while_held() -> None:
    heap = SettledHeap()
    heap.hold()
    try:
        a, b = Node(), Node()
        a.other, b.other = b, a
        gone = weakref.ref(a)
        del a, b
        gc.collect()
        assert gone() is None
    finally:
        heap.release()


def test_holders_are_counted_and_both_calls_are_idempotent() -> None:
    first, second = SettledHeap(), SettledHeap()
    first.hold()
    first.hold()
    second.hold()
    try:
        first.release()
        first.release()
        gc.collect()
        assert gc.get_freeze_count() > 0  # second still holds it
        assert not first.held and second.held
    finally:
        second.release()
    assert gc.get_freeze_count() == 0


def test_what_the_process_froze_itself_stays_frozen() -> None:
    gc.freeze()
    own = gc.get_freeze_count()
    assert own > 0
    heap = SettledHeap()
    heap.hold()
    heap.release()
    assert gc.get_freeze_count() >= own
