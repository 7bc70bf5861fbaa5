"""``StoreBreakpointSet``: an attached debugger's breakpoints, kept in the run's store.

An attached run runs in another process, so a breakpoint set here only means something if that
process checks it: its ``StoreBreakpoints`` hook reads the run's standing store entries
(``looplet_core.durable.breakpoint_entries``) before each call.  This set is a view of those
entries: every change made here (the ``b`` key, the breakpoints screen) is one
``update_breakpoints`` transaction on the store, and ``pull`` brings in what others wrote
(``runs pause --tool``, another attached debugger), so every debugger on the run lists the same
breakpoints.  Each entry written here has a ``key`` of its own, so removing or editing it never
touches another writer's entry.

The run checks entries before a call only, on the tool glob and the argument regex; a breakpoint
needing more (a phase, "on error", a context percentage, "after N hits") is refused with a
``ValueError`` saying so, never sent to be silently ignored.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from looplet_core.durable.breakpoint_entries import is_standing
from looplet_core.durable.runstore import RunStore
from looplet_tui.live.breakpoints import Breakpoint, BreakpointSet, Phase

__all__ = ["StoreBreakpointSet", "remote_problem"]

Entries = list[dict[str, Any]]


def remote_problem(bp: Breakpoint) -> str | None:
    """Why the attached run cannot check ``bp`` where it runs, or None when it can."""
    extra: list[str] = []
    if bp.phase is not None and bp.phase is not Phase.PRE_DISPATCH:
        extra.append(f"the phase {bp.phase.value}")
    if bp.on_error:
        extra.append("'on error'")
    if bp.context_above is not None:
        extra.append("'context % above'")
    if bp.after > 1:
        extra.append("'after N hits'")
    if bp.tool is None and bp.args is None:
        extra.append("a breakpoint without a tool glob or args regex")
    if not extra:
        return None
    return (
        "an attached run checks breakpoints where it runs, before each call, on the tool glob "
        f"and the args regex only: {' and '.join(extra)} cannot be sent to it (resume the run "
        "here with `looplet-tui resume STORE --run ID` to use every kind)"
    )


def _entry(bp: Breakpoint, key: str, by: str) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    if bp.tool is not None:
        entry["tool"] = bp.tool
    if bp.args is not None:
        entry["args"] = bp.args
    if not bp.enabled:
        entry["enabled"] = False
    return entry | {"key": key, "by": by}


def _breakpoint(entry: dict[str, Any]) -> Breakpoint:
    """The breakpoint a standing entry shows as; ValueError for an unreadable regex."""
    tool, args = entry.get("tool"), entry.get("args")
    return Breakpoint(
        tool=tool if isinstance(tool, str) else None,
        args=args if isinstance(args, str) else None,
        enabled=entry.get("enabled") is not False,
    )


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two entries are one breakpoint: the same key, or (keyless, from ``runs pause``)
    the same content."""
    key = b.get("key")
    return a.get("key") == key if key is not None else a == b


class StoreBreakpointSet(BreakpointSet):
    """The standing breakpoints of ``run_id`` in ``store``, shown and edited here.

    Changes write the store at once (on the calling thread: a short transaction) and raise
    ``LoopletError`` if it cannot be written; ``pull`` (the follower's thread) reads it again.
    ``hits`` are not known here: the run counts nothing, so the screen shows none.
    """

    def __init__(self, store: RunStore, run_id: str, *, by: str) -> None:
        super().__init__()
        self.store = store
        self.run_id = run_id
        self.by = by
        self.where = f"the run's store ({store.where}), shared with the run and its debuggers"
        self.unreadable: list[str] = []
        """Entries in the store that cannot be shown (written by hand with a bad regex)."""
        self._entries: dict[int, dict[str, Any]] = {}
        """Local breakpoint id -> the store entry it shows."""
        self._seen: Entries | None = None

    # -- the store to here ------------------------------------------------------------------

    def pull(self) -> bool:
        """Read the store's entries; returns whether the breakpoints shown changed."""
        return self._mirror(self.store.breakpoints(self.run_id))

    def _mirror(self, entries: Entries) -> bool:
        standing = [e for e in entries if is_standing(e)]
        with self._lock:
            if standing == self._seen:
                return False
            self._seen = standing
            old = list(self._items)
            items: list[Breakpoint] = []
            shown: dict[int, dict[str, Any]] = {}
            unreadable: list[str] = []
            for entry in standing:
                bp = next(
                    (b for b in old if b.id not in shown and _same(entry, self._entries[b.id])),
                    None,
                )
                if bp is None or self._entries[bp.id] != entry:
                    try:
                        new = _breakpoint(entry)
                    except ValueError as exc:
                        unreadable.append(f"{json.dumps(entry, ensure_ascii=False)}: {exc}")
                        continue
                    if bp is None:
                        new.id, self._next_id = self._next_id, self._next_id + 1
                    else:
                        new.id = bp.id
                    bp = new
                items.append(bp)
                shown[bp.id] = entry
            self._items, self._entries, self.unreadable = items, shown, unreadable
            self.revision += 1
        return True

    # -- here to the store ------------------------------------------------------------------

    def _write(self, change: Callable[[Entries], Entries]) -> None:
        self._mirror(self.store.update_breakpoints(self.run_id, change))

    def _check(self, bp: Breakpoint) -> None:
        problem = remote_problem(bp)
        if problem is not None:
            raise ValueError(problem)

    def _shown(self, bp_id: int) -> dict[str, Any]:
        with self._lock:
            entry = self._entries.get(bp_id)
        if entry is None:
            raise ValueError(
                f"breakpoint {bp_id} is no longer in the run's store (removed elsewhere meanwhile)"
            )
        return entry

    def add(self, bp: Breakpoint) -> Breakpoint:
        self._check(bp)
        key = uuid.uuid4().hex[:12]
        entry = _entry(bp, key, self.by)
        self._write(lambda es: [*es, entry])
        with self._lock:
            return next(b for b in self._items if self._entries[b.id].get("key") == key)

    def replace(self, bp_id: int, new: Breakpoint) -> None:
        """Change a breakpoint in place in the store (added again if it went meanwhile)."""
        self._check(new)
        old = self._shown(bp_id)
        entry = _entry(new, str(old.get("key") or uuid.uuid4().hex[:12]), self.by)

        def change(entries: Entries) -> Entries:
            if not any(_same(e, old) for e in entries):
                return [*entries, entry]
            return [entry if _same(e, old) else e for e in entries]

        self._write(change)

    def remove(self, bp_id: int) -> None:
        old = self._shown(bp_id)

        def change(entries: Entries) -> Entries:
            i = next((i for i, e in enumerate(entries) if _same(e, old)), None)
            return entries if i is None else entries[:i] + entries[i + 1 :]

        self._write(change)

    def set_enabled(self, bp_id: int, enabled: bool) -> None:
        self._shown(bp_id)
        bp = self.get(bp_id)
        if bp is not None and bp.enabled != enabled:
            self.replace(bp_id, Breakpoint(tool=bp.tool, args=bp.args, enabled=enabled))

    def toggle_tool(self, tool: str) -> bool:
        plain = Breakpoint(tool=tool).to_dict()
        found = next((b for b in self.items() if b.to_dict() | {"enabled": True} == plain), None)
        if found is not None:
            self.remove(found.id)
            return False
        self.add(Breakpoint(tool=tool))
        return True

    def load(self, path: Path) -> None:
        """Replace the run's standing breakpoints with the file's, all or none: a file
        breakpoint the run cannot check refuses the whole load."""
        loaded = BreakpointSet()
        loaded.load(path)
        for bp in loaded.items():
            problem = remote_problem(bp)
            if problem is not None:
                raise ValueError(f"{path}: not loaded: {bp.describe()}: {problem}")
        new = [_entry(bp, uuid.uuid4().hex[:12], self.by) for bp in loaded.items()]
        self._write(lambda es: [*(e for e in es if not is_standing(e)), *new])
