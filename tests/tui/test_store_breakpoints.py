"""An attached debugger's breakpoints are its run's store's: what one debugger sets, the run and
every other debugger see; removing one removes only it; kinds the run cannot check are refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from looplet_core.durable.connect import open_store
from looplet_core.durable.runstore import RunStore
from looplet_core.runs.headless import pause_run
from looplet_tui.live.breakpoints import Breakpoint, Phase
from looplet_tui.live.store_breakpoints import StoreBreakpointSet


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RunStore]:
    opened = open_store(tmp_path / "runs.db")
    yield opened
    opened.close()


def standing(store: RunStore) -> list[dict[str, object]]:
    return [{k: v for k, v in e.items() if k != "key"} for e in store.breakpoints("r1")]


def test_breakpoints_set_here_are_written_to_the_store_and_others_show_here(store: RunStore):
    pause_run(store, "r1", tool="count")  # runs pause r1 --tool count
    mine = StoreBreakpointSet(store, "r1", by="ada")
    assert mine.pull() and [bp.describe() for bp in mine.items()] == [
        "tool 'count' · @pre_dispatch"
    ]
    mine.add(Breakpoint(tool="delete*", args="rows"))
    assert mine.toggle_tool("write") is True
    assert standing(store) == [
        {"tool": "count"},
        {"tool": "delete*", "args": "rows", "by": "ada"},
        {"tool": "write", "by": "ada"},
    ]
    assert mine.marks("delete_all") and not mine.marks("read")
    assert mine.toggle_tool("write") is False  # b again: gone from the store too
    assert [e.get("tool") for e in store.breakpoints("r1")] == ["count", "delete*"]
    first = mine.items()[0]
    mine.set_enabled(first.id, False)  # the one from the command line, disabled here
    assert store.breakpoints("r1")[0]["enabled"] is False and not mine.items()[0].enabled
    assert not mine.pull()  # nothing new: nothing redrawn


def test_two_debuggers_never_remove_or_clobber_each_others_breakpoints(
    store: RunStore, tmp_path: Path
):
    other = open_store(tmp_path / "runs.db")  # bob's debugger has a connection of its own
    ada = StoreBreakpointSet(store, "r1", by="ada")
    bob = StoreBreakpointSet(other, "r1", by="bob")
    ada.add(Breakpoint(tool="delete"))
    bob.add(Breakpoint(tool="delete"))  # the same glob, set by both: two breakpoints
    assert bob.pull() is False and ada.pull() is True  # bob saw both when he wrote his
    assert len(ada.items()) == len(bob.items()) == 2
    bob.remove(bob.items()[1].id)  # his own (entries keep their order)
    assert [e["by"] for e in store.breakpoints("r1")] == ["ada"]
    assert ada.pull() and len(ada.items()) == 1
    shown = bob.items()[0]
    ada.remove(ada.items()[0].id)
    bob.replace(shown.id, Breakpoint(tool="x"))  # removed meanwhile: bob's edit adds it again
    assert standing(store) == [{"tool": "x", "by": "bob"}]
    assert ada.pull()
    ada.remove(ada.items()[0].id)
    with pytest.raises(ValueError, match="no longer in the run's store"):
        bob.pull()
        bob.set_enabled(shown.id, False)
    other.close()


@pytest.mark.parametrize(
    ("bp", "named"),
    [
        (Breakpoint(tool="x", on_error=True), "'on error'"),
        (Breakpoint(context_above=80), "'context % above'"),
        (Breakpoint(tool="x", after=3), "'after N hits'"),
        (Breakpoint(tool="x", phase=Phase.POST_DISPATCH), "the phase post_dispatch"),
        (Breakpoint(phase=Phase.PRE_DISPATCH), "without a tool glob or args regex"),
    ],
)
def test_a_kind_the_run_cannot_check_is_refused_and_nothing_is_written(
    store: RunStore, bp: Breakpoint, named: str
):
    mine = StoreBreakpointSet(store, "r1", by="ada")
    with pytest.raises(ValueError) as refused:
        mine.add(bp)
    assert named in str(refused.value) and "before each call" in str(refused.value)
    assert store.breakpoints("r1") == [] and mine.items() == []
    mine.add(Breakpoint(tool="x", phase=Phase.PRE_DISPATCH))  # where the run checks: accepted
    assert standing(store) == [{"tool": "x", "by": "ada"}]


def test_loading_a_file_replaces_the_standing_entries_or_refuses_all(
    store: RunStore, tmp_path: Path
):
    store.set_breakpoints("r1", [{"tool": "old"}, {"paused_at": 2}])
    mine = StoreBreakpointSet(store, "r1", by="ada")
    path = tmp_path / "bps.json"
    doc = {"format": "looplet-breakpoints", "version": 1, "breakpoints": [{"tool": "a"}]}
    path.write_text(json.dumps(doc))
    mine.load(path)
    assert standing(store) == [{"paused_at": 2}, {"tool": "a", "by": "ada"}]
    doc["breakpoints"] = [{"tool": "b"}, {"tool": "c", "on_error": True}]
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=r"not loaded: tool 'c' · on error"):
        mine.load(path)
    assert standing(store) == [{"paused_at": 2}, {"tool": "a", "by": "ada"}]  # nothing lost


def test_an_entry_written_by_hand_with_a_bad_regex_is_named_not_shown(store: RunStore):
    store.set_breakpoints("r1", [{"tool": "rm", "args": "(oops"}, {"tool": "ok"}])
    mine = StoreBreakpointSet(store, "r1", by="ada")
    mine.pull()
    assert [bp.tool for bp in mine.items()] == ["ok"]
    assert len(mine.unreadable) == 1 and "(oops" in mine.unreadable[0]
