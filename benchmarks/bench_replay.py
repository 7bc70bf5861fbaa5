"""Replaying a long trace in the debugger: first screen, latency per keypress, peak memory.

    .venv/bin/python benchmarks/bench_replay.py                    # 10,000 steps, a few minutes
    .venv/bin/python benchmarks/bench_replay.py --trace /tmp/t10k   # written once, reused after
    .venv/bin/python benchmarks/bench_replay.py --steps 2000 --presses 50 --only first,keys

The target (issue 16): on a generated 10,000-step trace, ``looplet-tui replay`` shows its first
screen in at most 0.5 s, steps in at most 20 ms per ``n``, and peaks at no more than 120 MiB
(an earlier issue asked for 1 s, 50 ms and 200 MiB).

**The trace** is written, in a child process, by the real loop with a real
``ProvenanceSink(prompt_files="new")`` (``timed_run`` of ``bench_provenance.py``: every step is a
model call), into a temporary directory or into ``--trace DIR`` once and reused from there.
Frames are taken from a wrapper around ``App._display``: headless, the compositor composes each
frame as it would for a terminal, only the bytes are not written.

**First screen.**  The wall time of a fresh ``python -c ...`` process that opens ``replay TRACE``
as the command line does (``_parser``, ``build_session``, ``DebuggerApp(session,
start_paused=not args.no_pause)``) and runs it headless at 120x36 until the first frame of the
first screen: mounted, nothing unread, and the header shows step 1 played or the run paused
before it.  Timed from just before the spawn, median of ``--runs``, beside ``python -c pass`` and
``python -c "import textual.app"`` (the floor ``bench_tui.py`` uses), with the child's own split.

**Per keypress.**  One app in this process (``App.run_test``, 120x36, opened with
``replay_session`` as the command line does, its clock fixed so that the header's elapsed time
does not redraw it every second).  Each key is posted as a Textual ``Key`` event, as the terminal
driver does (``pilot.press`` sleeps at least 40 ms per key).  The figure runs from posting the key
to the last frame of the work it started: the key's expected result must hold (``Harness.keys_of``
says which: the header's step, the timeline's cursor or selected step, the focused input and its
text, the run state), and then the app must stay idle for ``--quiet-ms`` (50) with no new frame.
Idle is checked by polling every 0.2 ms: the UI is single-threaded, so a poll that wakes late
means the app (or the worker thread, through the GIL) was busy, and the quiet time starts again.
Also shown: the time to the first frame showing the result, and until polling saw it in the
app's state.  After each key ``pilot.pause()`` lets the app settle, untimed.

In each of two regions the same mix is pressed: ``n`` x ``--presses`` (200), ``right`` x 50,
``left`` back as many, ``k`` and ``j`` x 50, ``G`` and ``end`` x 10 (each after three untimed
``k``), 5 searches for a step a few rows back, 10 seeks up to 100 steps away, 3 play/pause.  The
first region starts at step 10, the second ``1.25 x --presses`` before step ``steps - 10`` (so
both cover as many steps), each reached by an untimed seek; the flatness table compares their
medians.  ``--seeks`` seeks to random steps (``--seed``) come last.  A batch stops after
``--budget`` seconds (20; at least 10 presses), or with a note when a key shows no result in
60 s.  ``--keys`` picks kinds of key.

**Peak memory.**  A fresh process (``--child memory``) opens the trace as the command line does,
runs the app headless, steps ``--stepped`` (500) times with ``n``, seeks to the last step and back
to the middle, and reports after each stage ``ru_maxrss`` (``getrusage``), ``VmHWM`` (its own peak
RSS, from ``/proc``) and the RSS now; beside the same for a process running an empty textual
``App``.  On Linux a child's ``ru_maxrss`` starts at its parent's peak (it survives ``exec``), so
these children are spawned first, while this process is small, and its own figure is printed.
The child runs under an address-space limit (``--mem-cap-mib``) so that a runaway cannot take the
shared machine's memory.

Prints one table per measure with the target beside each figure, and the harness's own overhead;
exits 0 whatever the figures (people judge the targets, not an assert).  Times are medians; the
load average is printed at the start and the end because the machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Collection, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

if TYPE_CHECKING:
    from textual.pilot import Pilot
    from textual.widgets import Input

    from looplet_tui.app import DebuggerApp

SIZE = (120, 36)
TARGET_FIRST_S, TARGET_KEY_MS, TARGET_MEM_MIB = 0.5, 20.0, 120.0
POLL = 0.0002  # seconds between checks of the expected result while waiting for it
LATE = 0.01  # a poll that wakes this many seconds late found the app (or the GIL) busy
QUIET_LIMIT = 10.0  # seconds after which a press counts as done even if the app never went quiet
TIMEOUT = 60.0  # seconds a key may take to show its result before its batch is given up
KINDS = ("n", "right", "left", "k", "j", "G", "end", "search", "seek", "space")
FIRST_APART = "enter (find in trace)"  # its first press has a row of its own: it builds an index


# -- one app, its keys timed to the frames that show their result ---------------------------------

Expect = Callable[["Harness"], bool]


def at(step: int) -> Expect:
    return lambda v: v.settled and v.position == step


def cursor_at(row: int) -> Expect:
    return lambda v: v.cursor == row


def on_step(number: int) -> Expect:
    return lambda v: v.selected_number == number


def input_box(text: str | None = None) -> Expect:
    """An input box has the focus (holding ``text``, unless None)."""
    return lambda v: (box := v.focused_input) is not None and (text is None or box.value == text)


def typed(text: str) -> list[str]:
    """Key names for typing ``text``, as Textual's own driver names them."""
    from textual.keys import _character_to_key  # the name a terminal's character is given

    return [_character_to_key(ch) for ch in text]


class Stuck(Exception):
    """A key whose expected result did not come in time."""


@dataclass(slots=True)
class Harness:
    """One running app: what the expectations read off it (afresh on every read), keys posted to
    it and timed to the frames that show their result, and the samples so taken."""

    app: DebuggerApp
    pilot: Pilot[Any]
    quiet: float = 0.05  # no frame for this long after the result: the key's work is done
    budget: float = 20.0
    wanted: Collection[str] = KINDS
    region: str = ""
    samples: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    notes: list[str] = field(default_factory=list[str])
    watch: Expect | None = None
    first_at: float | None = None
    last_at: float | None = None
    frames: int = 0

    def __post_init__(self) -> None:
        display = self.app._display

        def timed_display(screen: Any, renderable: Any) -> None:
            display(screen, renderable)
            if renderable is not None:
                self.frames += 1
                if self.watch is not None:
                    self.last_at = now = time.perf_counter()
                    if self.first_at is None and self.holds(self.watch):
                        self.first_at = now

        self.app._display = timed_display  # type: ignore[method-assign]

    @property
    def position(self) -> int:
        """The header's step: how many steps have been played."""
        from looplet_tui.widgets.header import RunHeader

        return self.app.main.query_one(RunHeader).step

    @property
    def settled(self) -> bool:
        """The UI has read the controller's latest change."""
        return not self.app.controller.unread

    @property
    def timeline(self) -> Any:
        from looplet_tui.widgets.timeline import StepTimeline

        return self.app.main.query_one(StepTimeline)

    @property
    def cursor(self) -> int:
        return int(self.timeline.cursor)

    @property
    def selected_number(self) -> int | None:
        """The step number of the timeline's selected row (None for a marker or nothing)."""
        from looplet_core import Step
        from looplet_tui.live.runstate import Live

        row = self.timeline.selected
        row = row.step if isinstance(row, Live) else row
        return row.number if isinstance(row, Step) else None

    @property
    def focused_input(self) -> Input | None:
        from textual.widgets import Input

        return focused if isinstance(focused := self.app.focused, Input) else None

    @property
    def playing(self) -> bool:
        from looplet_tui.live.runstate import RunState

        return self.app.controller.run_state is RunState.RUNNING

    @property
    def first_screen(self) -> bool:
        ctl = self.app.controller
        return not ctl.unread and (self.position >= 1 or ctl.pause_point is not None)

    def holds(self, expect: Expect) -> bool:
        try:
            return expect(self)
        except Exception:  # the app is changing screens: not yet
            return False

    async def wait_for(self, expect: Expect, timeout: float) -> bool:
        deadline = time.perf_counter() + timeout
        while not self.holds(expect):
            if time.perf_counter() > deadline:
                return False
            await asyncio.sleep(POLL)
        return True

    async def press(
        self, key: str, expect: Expect, timeout: float = TIMEOUT, first_frame: bool = False
    ) -> tuple[float, float | None, float] | None:
        """Post ``key``; wait until ``expect`` holds, then until the app has been idle for
        ``quiet`` seconds with no new frame (with ``first_frame``, for a key whose work never goes
        quiet: until the first frame showing the result).  Milliseconds from posting the key to
        the last frame of its work (to ``state`` when it drew none), to the first frame showing
        the result, and until polling saw the result in the app's state (``state``); None when
        ``expect`` did not hold within ``timeout``."""
        from textual import events
        from textual.keys import key_to_character

        self.watch, self.first_at, self.last_at = expect, None, None
        started = quiet_since = time.perf_counter()
        self.app.post_message(events.Key(key, key_to_character(key)))
        seen: float | None = None
        frames_then: float | None = None
        try:
            while True:
                before = time.perf_counter()
                await asyncio.sleep(POLL)
                now = time.perf_counter()
                if seen is None:
                    if self.holds(expect) or self.first_at is not None:
                        seen = now
                    elif now - started > timeout:
                        return None
                    quiet_since = now
                elif first_frame and (self.first_at is not None or now - seen > 1.0):
                    break
                elif now - before > LATE or self.last_at != frames_then:  # busy, or drawing
                    quiet_since, frames_then = now, self.last_at
                elif now - quiet_since >= self.quiet or now - seen > QUIET_LIMIT:
                    break
        finally:
            self.watch = None
        first, last = self.first_at, self.last_at
        if first is None:
            state = done = seen
        else:
            state = min(seen, first)
            done = first if first_frame else last if last is not None else state
        return (
            (max(done, state) - started) * 1e3,
            (first - started) * 1e3 if first is not None else None,
            (state - started) * 1e3,
        )

    async def key(
        self,
        label: str | None,
        key: str,
        expect: Expect,
        first_frame: bool = False,
        settle: bool = True,
    ) -> None:
        """Press ``key`` and wait for ``expect``: a sample under ``label``, or untimed when it is
        None; then, with ``settle``, let the app settle.  Nothing when ``expect`` holds already
        (there would be nothing to time)."""
        if self.holds(expect):
            return
        timing = await self.press(key, expect, first_frame=first_frame)
        if timing is None:
            raise Stuck(f"`{key}` ({label or 'untimed'}) timed out at {TIMEOUT:g} s")
        if label is not None:
            if label == FIRST_APART and all(s["label"] != f"{label}, 1st" for s in self.samples):
                label += ", 1st"
            done, first, state = timing
            sample = {"label": label, "region": self.region, "done_ms": done, "first_ms": first}
            self.samples.append(sample | {"state_ms": state, "position": self.position})
        if settle:
            await self.pilot.pause()

    async def seek(self, target: int, label: str | None = None) -> None:
        """``:`` focuses the go-to box, each digit shows in it, enter plays to ``target``; timed
        (``label`` names the enter) or, with no label, not (and with no settling in between)."""
        timed, digits = label is not None, str(target)
        await self.key(": (open go-to)" if timed else None, "colon", input_box(), settle=timed)
        for i, key in enumerate(typed(digits)):
            typing = input_box(digits[: i + 1])
            await self.key("type a digit" if timed else None, key, typing, settle=timed)
        await self.key(label, "enter", at(target), settle=timed)

    async def search(self, target: int) -> None:
        """Type a needle only step ``target`` matches, leave the box, then from the newest row
        reopen it (still holding the needle) and press enter: a replay searches the whole trace
        and selects the match.  The needle is the step's arguments as the trace search spells
        them (``a: 41 b: 1``); the timeline spells calls ``add(a=41, b=1)``, so while it is
        typed the played rows stop matching and each key scans all of them (the worst case)."""
        step = self.app.controller.step(target)
        call = step.tool_call if step is not None else None
        needle = " ".join(f"{k}: {v}" for k, v in (call.args if call else {}).items())
        needle, newest = needle or str(target), self.position
        await self.key("/ (open search)", "slash", input_box())
        for i, key in enumerate(typed(needle)):
            await self.key("type in search", key, input_box(needle[: i + 1]))
        await self.key(None, "escape", lambda v: v.focused_input is None)
        await self.key(None, "G", on_step(newest))
        await self.key("/ (open search)", "slash", input_box(needle))
        await self.key(FIRST_APART, "enter", on_step(target))

    async def keys_of(self, kind: str, target: int) -> None:
        """The keys of one action of ``kind``, and what each must show."""
        if kind in ("n", "right", "left"):  # the header's step moves, nothing unread
            await self.key(kind, kind, at(self.position + (-1 if kind == "left" else 1)))
        elif kind in ("k", "j"):  # the timeline's cursor moves a row
            await self.key(kind, kind, cursor_at(self.cursor + (-1 if kind == "k" else 1)))
        elif kind in ("G", "end"):  # three untimed k, then back to the newest played step
            for _ in range(min(3, self.cursor)):
                await self.key(None, "k", cursor_at(self.cursor - 1))
            await self.key(kind, kind, on_step(self.position))
        elif kind == "search":
            await self.search(target)
        elif kind == "seek":
            where = "random" if self.region == "random" else "near"
            await self.seek(target, f"enter (seek, {where})")
        else:  # play shows at once and then keeps drawing, so it is timed to its first frame
            await self.key("space (play)", "space", lambda v: v.playing, first_frame=True)
            await asyncio.sleep(0.3)
            await self.key("space (pause)", "space", lambda v: v.settled and not v.playing)

    async def attempt(self, what: str, keys: Coroutine[Any, Any, None]) -> bool:
        """Run ``keys``, then escape any input box left open (the search box after enter) and
        clear the toasts (one leaving later would draw inside another sample).  False when a key
        got stuck."""
        try:
            await keys
        except Stuck as stuck:
            self.notes.append(f"{what} ({self.region}): {stuck}")
            return False
        finally:
            for _ in range(3):
                if self.focused_input is not None:
                    await self.press("escape", lambda v: v.focused_input is None, 2.0)
            self.app.clear_notifications()
            await self.pilot.pause()
        return True

    async def act(self, kind: str, target: int = 0) -> bool:
        """One action of ``kind``; False when it is not wanted or a key got stuck."""
        return kind in self.wanted and await self.attempt(kind, self.keys_of(kind, target))

    async def go_to(self, target: int) -> None:
        """Untimed: a seek to ``target``."""
        if self.position != target:
            await self.attempt(f"going to step {target}", self.seek(target))

    async def repeat(self, kind: str, count: int) -> int:
        """Up to ``count`` actions of ``kind`` within the time budget; how many were done."""
        started = time.perf_counter()
        for done in range(count):
            if done >= 10 and time.perf_counter() - started > self.budget:
                self.notes.append(
                    f"{kind} near {self.region}: stopped after {done} of {count} (budget "
                    f"{self.budget:g} s)"
                )
                return done
            if not await self.act(kind):
                return done
        return max(count, 0)


# -- the keypress benchmark -----------------------------------------------------------------------


async def region(h: Harness, name: str, start: int, counts: dict[str, int], steps: int) -> None:
    """The same mix of keys from step ``start``."""
    h.region = name
    await h.go_to(start)
    forward = await h.repeat("n", counts["n"]) + await h.repeat("right", counts["right"])
    await h.repeat("left", forward)
    await h.repeat("j", await h.repeat("k", min(counts["k"], h.cursor)))
    await h.repeat("G", counts["G"])
    await h.repeat("end", counts["G"])
    for i in range(counts["search"]):
        target = h.position - 5 - i
        if target < 1 or not await h.act("search", target):
            break
    rng, here = random.Random(start), h.position
    for _ in range(counts["seek"]):
        target = min(steps, max(1, here + rng.randint(-100, 100)))
        if target != h.position and not await h.act("seek", target):
            break
    await h.repeat("space", counts["space"])


async def overhead(h: Harness) -> dict[str, float]:
    """What the harness itself costs, on the idle app: polling, a message's round trip, the
    settle after each sample, and one expectation check."""
    sleeps, trips, pauses, checks = [], [], [], []
    for _ in range(200):
        t = time.perf_counter()
        await asyncio.sleep(POLL)
        sleeps.append(time.perf_counter() - t)
    for _ in range(100):
        done = asyncio.Event()
        t = time.perf_counter()
        h.app.call_later(done.set)
        await done.wait()
        trips.append(time.perf_counter() - t)
    for _ in range(20):
        t = time.perf_counter()
        await h.pilot.pause()
        pauses.append(time.perf_counter() - t)
    expect = at(h.position)
    for _ in range(1000):
        t = time.perf_counter()
        h.holds(expect)
        checks.append(time.perf_counter() - t)
    before = h.frames
    await asyncio.sleep(2.0)
    return {
        "idle frames": (h.frames - before) / 2.0,
        "poll": statistics.median(sleeps) * 1e3,
        "round trip": statistics.median(trips) * 1e3,
        "settle": statistics.median(pauses) * 1e3,
        "check": statistics.median(checks) * 1e6,
    }


async def keypresses(trace: Path, steps: int, args: argparse.Namespace) -> dict[str, Any]:
    from looplet_tui.app import DebuggerApp
    from looplet_tui.cli import replay_session

    # A fixed clock: the header's elapsed time would otherwise redraw it every second, and such a
    # frame could land in a press's quiet window.  Everything else is as the command line has it.
    app = DebuggerApp(replay_session(trace), clock=lambda: 0.0)
    n = args.presses
    counts = {"n": n, "right": max(1, n // 4), "k": max(1, n // 4), "G": 10, "search": 5}
    counts |= {"seek": max(1, args.seeks // 2), "space": 3}
    far = max(10, steps - 10 - (n + counts["right"]))
    async with app.run_test(size=SIZE) as pilot:
        wanted = args.keys.split(",") if args.keys else KINDS
        h = Harness(app, pilot, args.quiet_ms / 1000, args.budget, wanted)
        result = {"samples": h.samples, "notes": h.notes, "far": far, "quiet_ms": args.quiet_ms}
        if not await h.wait_for(lambda v: v.first_screen, 60.0):
            h.notes.append("the first screen never came; nothing measured")
            return result | {"overhead": {}}
        await pilot.pause()
        result["overhead"] = await overhead(h)
        await region(h, "start", min(10, steps), counts, steps)
        await region(h, "end", far, counts, steps)
        h.region, rng = "random", random.Random(args.seed)
        for _ in range(args.seeks):
            if not await h.act("seek", rng.randint(1, steps)):
                break
        await pilot.press("q")
    return result


# -- the trace, and the first screen (child processes) --------------------------------------------


def prepare_trace(where: Path, args: argparse.Namespace) -> tuple[int, float | None, int, int]:
    """Reuse the trace at ``where``, or write one there in a child process (so that this process
    stays small).  Its steps, seconds to write it (None: reused), bytes in its files and bytes of
    their disk blocks."""
    if (where / "manifest.json").is_file():
        # The manifest's count: a format-2 trace has no file per step to count.
        totals = json.loads((where / "manifest.json").read_text(encoding="utf-8")).get("totals")
        steps = int((totals or {}).get("steps") or 0)
        if steps != args.steps:
            print(f"note: reusing {where}: it has {steps:,} steps (asked for {args.steps:,})")
        wrote = None
    else:
        result = run_child("trace", where, args)
        if "error" in result:
            raise SystemExit(f"could not write the trace: {result['error']}")
        steps, wrote = args.steps, float(result["wrote"])
    size = disk = 0
    for root, _, files in os.walk(where):  # not pathlib's walk: this process stays small
        for name in files:
            st = os.stat(os.path.join(root, name))
            size, disk = size + st.st_size, disk + st.st_blocks * 512
    return steps, wrote, size, disk


FIRST_SCREEN = """
import asyncio, json, sys, time
t0 = time.time()
from looplet_tui.__main__ import _parser
from looplet_tui.app import DebuggerApp
from looplet_tui.cli import build_session
from looplet_tui.widgets.header import RunHeader
t1 = time.time()
args = _parser().parse_args(["replay", sys.argv[1]])
app = DebuggerApp(build_session(args), start_paused=not args.no_pause)
t2 = time.time()
first = []
display = app._display
def shown():
    try:
        header = app.main.query_one(RunHeader)
    except Exception:
        return False
    ctl = app.controller
    return not ctl.unread and (header.step >= 1 or ctl.pause_point is not None)
def timed_display(screen, renderable):
    display(screen, renderable)
    if renderable is not None and not first and shown():
        first.append(time.time())
app._display = timed_display
async def first_screen(pilot):
    deadline = time.time() + 60
    while not first and time.time() < deadline:
        await asyncio.sleep(0.0005)
    app.exit()
app.run(headless=True, auto_pilot=first_screen, size=(120, 36))
print(json.dumps({"start": t0, "imports": t1 - t0, "session": t2 - t1,
                  "first": first[0] if first else None, "app": (first[0] - t2) if first else None}))
"""


def spawn(code: str, *argv: str) -> tuple[float, dict[str, Any] | None, float]:
    """(wall seconds of ``python -c code``, its last stdout line as JSON, time.time() at spawn)."""
    spawned, started = time.time(), time.perf_counter()
    command = [sys.executable, "-c", code, *argv]
    proc = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, check=False, timeout=300
    )
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"child failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    lines = proc.stdout.strip().splitlines()
    return wall, json.loads(lines[-1]) if lines and lines[-1].startswith("{") else None, spawned


def first_screen(trace: Path, runs: int) -> dict[str, Any]:
    times: dict[str, list[float]] = {k: [] for k in ("pass", "textual", "first", "whole")}
    parts: dict[str, list[float]] = {"imports": [], "session": [], "app": [], "interp": []}
    spawn("import textual.app")  # warm the page cache and .pyc files alike
    for _ in range(runs):  # in turn, so a burst of load hits every figure alike
        times["pass"].append(spawn("pass")[0])
        times["textual"].append(spawn("import textual.app")[0])
        wall, data, spawned = spawn(FIRST_SCREEN, str(trace))
        times["whole"].append(wall)
        if data is not None and data["first"] is not None:
            times["first"].append(data["first"] - spawned)
            parts["interp"].append(data["start"] - spawned)
            for key in ("imports", "session", "app"):
                parts[key].append(data[key])
    result: dict[str, Any] = {k: statistics.median(v) if v else None for k, v in times.items()}
    result["parts"] = {k: statistics.median(v) for k, v in parts.items() if v}
    return result | {"first_all": times["first"], "runs": runs}


# -- peak memory (child processes) ----------------------------------------------------------------


def memory_figures() -> dict[str, float | None]:
    """In MiB: ``ru_maxrss``, and from ``/proc`` (Linux only) ``VmHWM`` (the process's own peak
    RSS) and ``VmRSS`` (resident now).  On Linux ``ru_maxrss`` survives ``exec``: a child starts
    with its parent's peak at the time of the fork."""
    status: dict[str, float] = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                status[name] = int(rest.split()[0]) / 1024
    except OSError:
        pass
    unit = 2**20 if sys.platform == "darwin" else 2**10  # ru_maxrss: bytes on macOS, else KiB
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / unit
    return {"maxrss": maxrss, "hwm": status.get("VmHWM"), "rss": status.get("VmRSS")}


def child_memory(trace: Path, stepped: int) -> dict[str, Any]:
    """Runs in the child: open the trace as the CLI does, step, seek to the end and the middle."""
    from looplet_core import Step
    from looplet_tui.__main__ import _parser
    from looplet_tui.app import DebuggerApp
    from looplet_tui.cli import build_session

    args = _parser().parse_args(["replay", str(trace)])
    session = build_session(args)
    app = DebuggerApp(session, start_paused=not args.no_pause)
    total = len(getattr(session, "steps", ()))
    stages: list[dict[str, Any]] = []
    notes: list[str] = []

    def stage(h: Harness, name: str, started: float) -> None:
        held = [e for e in app.controller.entries if isinstance(e, Step)]
        prompts = [e.prompt for e in held if e.prompt is not None]
        stages.append(
            {
                "stage": name,
                **memory_figures(),
                "seconds": time.perf_counter() - started,
                "position": h.position,
                "steps_held": len(held),
                "prompts_held": len(prompts),
                "messages_held": sum(len(p) for p in prompts),
            }
        )

    async def scenario(pilot: Pilot[Any]) -> None:
        started = time.perf_counter()
        h = Harness(app, pilot, quiet=0.02, region="memory", notes=notes)  # a frame per step
        await h.wait_for(lambda v: v.first_screen, 60.0)
        stage(h, "opened (first screen)", started)
        started = time.perf_counter()
        for _ in range(stepped):
            if await h.press("n", at(h.position + 1)) is None:
                notes.append(f"n stopped working at step {h.position}")
                break
        stage(h, f"after {stepped} x n", started)
        for name, target in (("at the end", total), ("back to the middle", total // 2)):
            started = time.perf_counter()
            await h.go_to(target)
            stage(h, f"{name} (step {target:,})", started)
        app.exit()

    app.run(headless=True, auto_pilot=scenario, size=SIZE)
    return {"stages": stages, "notes": notes}


def child_main(args: argparse.Namespace) -> int:
    if args.mem_cap_mib > 0:
        cap = args.mem_cap_mib * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    if args.child == "empty":
        from textual.app import App

        async def leave(pilot: Pilot[Any]) -> None:
            await pilot.pause()
            pilot.app.exit()

        App[None]().run(headless=True, auto_pilot=leave, size=SIZE)
        result: dict[str, Any] = memory_figures()
    elif args.child == "trace":
        from bench_provenance import timed_run

        from looplet_core import ProvenanceSink

        started = time.perf_counter()
        timed_run(args.steps, ProvenanceSink(args.trace, prompt_files="new"))
        result = {"wrote": time.perf_counter() - started}
    else:
        try:
            result = child_memory(args.trace, args.stepped)
        except MemoryError:
            result = {"error": f"MemoryError: the {args.mem_cap_mib} MiB address-space cap was hit"}
    print(json.dumps(result))
    return 0


def run_child(kind: str, trace: Path | None, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", kind, "--mem-cap-mib", str(args.mem_cap_mib)]
    command += ["--stepped", str(args.stepped), "--steps", str(args.steps)]
    command += ["--trace", str(trace)] if trace else []
    try:
        proc = subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, check=False, timeout=900
        )
    except subprocess.TimeoutExpired:
        return {"error": "timed out after 900 s"}
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        return {"error": f"exit {proc.returncode}: {proc.stderr.strip()[-1500:]}"}
    return json.loads(lines[-1])


# -- reporting ------------------------------------------------------------------------------------


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def loadavg() -> str:
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def git_rev() -> str:
    try:
        run = subprocess.run(
            ["git", "describe", "--always", "--dirty= + uncommitted changes"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return "n/a"
    return run.stdout.strip() or "n/a"


def print_first(res: dict[str, Any], load: str) -> None:
    print(
        f"\n1. First screen, fresh process, wall time (median of {res['runs']}; load after: {load})"
    )
    floor = 'python -c "import textual.app" (the floor)'
    rows = [
        ("what", "s", "target"),
        ("python -c pass", res["pass"], ""),
        (floor, res["textual"], ""),
    ]
    first = res["first"]
    if first is not None:
        rows += [
            ("replay TRACE: spawn to the first screen", first, f"<= {TARGET_FIRST_S:g} s"),
            ("  above the textual floor", first - res["textual"], ""),
            ("  the whole process (with exit)", res["whole"], ""),
            ("  of which: interpreter start", res["parts"].get("interp"), ""),
            ("            imports (looplet_tui.app, cli)", res["parts"].get("imports"), ""),
            ("            build_session (open the trace)", res["parts"].get("session"), ""),
            ("            app start to the first frame", res["parts"].get("app"), ""),
        ]
    for name, value, target in rows:
        if value is not None:
            figure = f"{value:>8}" if isinstance(value, str) else f"{value:>8.3f}"
            print(f"   {name:<52}{figure}" + (f"   {target}" if target else ""))
    if first is None:
        print("   replay: the first screen never came")
    else:
        print(f"   (each run: {', '.join(f'{x:.3f}' for x in res['first_all'])})")


def print_keys(res: dict[str, Any], steps: int, load: str) -> None:
    by: dict[str, list[dict[str, Any]]] = {}
    for s in res["samples"]:
        by.setdefault(s["label"], []).append(s)

    def med(values: list[float | None]) -> str:
        known = [v for v in values if v is not None]
        return f"{statistics.median(known):.1f}" if known else "-"

    print(f"\n2. Key to the screen showing its result, one app, {steps:,}-step trace (ms)")
    print(f"   (load after: {load})")
    print(
        f"   {'key':<28}{'n':>5}{'median':>8}{'p95':>8}{'max':>8}"
        f"{f'<={TARGET_KEY_MS:g}':>6}   {'target':<10}{'1st frame':>10}{'state':>7}"
    )
    for label, group in by.items():
        done = [s["done_ms"] for s in group]
        within = sum(t <= TARGET_KEY_MS for t in done) / len(done)
        print(
            f"   {label:<28}{len(done):>5}{statistics.median(done):>8.1f}{pct(done, 0.95):>8.1f}"
            f"{max(done):>8.1f}{within:>6.0%}   <= {TARGET_KEY_MS:<7g}"
            f"{med([s['first_ms'] for s in group]):>10}{med([s['state_ms'] for s in group]):>7}"
        )
    print(
        "   median/p95/max: to the last frame of the work the key started; "
        f"<={TARGET_KEY_MS:g}: share of presses within the target;"
        "\n   1st frame: median to the first frame showing the "
        "expected result; state: median until the app's state had it."
    )
    print(f"\n3. Flat in the run's length? The same keys near step 10 and near step {res['far']:,}")
    print(
        f"   {'key':<28}{'start med':>10}{'p95':>8}{'end med':>10}{'p95':>8}{'end/start':>11}"
        f"{'positions (end)':>18}"
    )
    for label, group in by.items():
        start = [s["done_ms"] for s in group if s["region"] == "start"]
        end = [s["done_ms"] for s in group if s["region"] == "end"]
        if start and end:
            where = [s["position"] for s in group if s["region"] == "end"]
            ms, me = statistics.median(start), statistics.median(end)
            print(
                f"   {label:<28}{ms:>10.1f}{pct(start, 0.95):>8.1f}{me:>10.1f}"
                f"{pct(end, 0.95):>8.1f}{me / ms:>10.1f}x{f'{min(where):,}-{max(where):,}':>18}"
            )
    for note in res["notes"]:
        print(f"   note: {note}")
    if o := res["overhead"]:
        print("\n   The harness's own cost, on the idle app (medians):")
        for name, value in [
            (f"one poll while waiting, asyncio.sleep({POLL})", f"{o['poll']:.3f} ms"),
            ("a message's round trip through the app's queue", f"{o['round trip']:.3f} ms"),
            ("one check of an expectation (also run per frame)", f"{o['check']:.1f} us"),
            ("frames the idle app draws by itself, per second", f"{o['idle frames']:.1f}"),
            ("pilot.pause() settling after each sample, untimed", f"{o['settle']:.1f} ms"),
        ]:
            print(f"     {name:<52}{value:>10}")
        print(
            f"     (a press is done once {res['quiet_ms']:g} ms pass without a frame; that wait is "
            "not in the figure)"
        )


def print_memory(report: dict[str, Any], load: str) -> None:
    res, empty = report["memory"], report["empty"]
    print(f"\n4. Peak memory, fresh process, headless 120x36 (MiB; load after: {load})")
    print(
        f"   {'stage':<36}{'ru_maxrss':>10}{'VmHWM':>8}{'RSS':>8}{'s':>7}   "
        f"{'target':<8}{'held: steps / prompts / their length'}"
    )

    def mib(s: dict[str, Any]) -> str:
        cells = ((s["maxrss"], 10), (s["hwm"], 8), (s["rss"], 8))
        return "".join(f"{v:>{w}.1f}" if v is not None else f"{'n/a':>{w}}" for v, w in cells)

    if "error" in empty:
        print(f"   empty textual App: {empty['error']}")
    else:
        print(f"   {'empty textual App (reference)':<36}{mib(empty)}")
    if "error" in res:
        print(f"   replay: {res['error']}")
        return
    for s in res["stages"]:
        held = f"{s['steps_held']:,} / {s['prompts_held']:,} / {s['messages_held']:,}"
        print(f"   {s['stage']:<36}{mib(s)}{s['seconds']:>7.1f}   <= {TARGET_MEM_MIB:<5g}{held}")
    print(
        f"   ru_maxrss: getrusage, as asked; VmHWM: the process's own peak RSS (/proc); s: the "
        f"stage's duration;\n   held: steps in the controller's history, prompts loaded on them "
        f"and their total length (a lazy prompt's length is not memory).\n   This launcher's "
        f"ru_maxrss when it spawned them: {report['launcher']:.1f} MiB (a child's starts there)."
    )
    for note in res["notes"]:
        print(f"   note: {note}")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    add = parser.add_argument
    add("--steps", type=int, default=10_000, help="the trace's length")
    add("--trace", type=Path, help="use this trace, or write it here and keep it")
    add("--dir", type=Path, help="where the temporary trace goes")
    add("--only", default="first,keys,memory", help="which measures to run")
    add("--keys", default="", help="kinds of key (default all): " + ",".join(KINDS))
    add("--presses", type=int, default=200, help="n presses per region")
    add("--seeks", type=int, default=20, help="seeks to random steps")
    add("--seed", type=int, default=0)
    add("--runs", type=int, default=5, help="first-screen processes")
    add("--quiet-ms", type=float, default=50.0, help="no frame for this long: a press is done")
    add("--budget", type=float, default=20.0, help="seconds per batch of a key")
    add("--stepped", type=int, default=500, help="n presses in the memory run")
    add("--mem-cap-mib", type=int, default=4096, help="the memory child's cap")
    add("--json", type=Path, help="write the raw figures here")
    add("--child", choices=("memory", "empty", "trace"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child_main(args)
    only = set(args.only.split(","))

    def progress(text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)

    print(
        f"looplet-tui replay benchmark (benchmarks/bench_replay.py), headless {SIZE[0]}x{SIZE[1]}"
    )
    print(f"date:    {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print(f"repo:    git {git_rev()}")
    print(f"load:    {loadavg()} at the start (1/5/15 min)")
    report: dict[str, Any] = {"load_start": loadavg()}
    loads: dict[str, str] = {}
    failed: list[str] = []
    # Children first, while this process is small: a child's ru_maxrss starts at this process's
    # peak (see ``memory_figures``), and the keypress app below makes it large.
    if args.dir:  # a --dir that does not exist yet is made, not a traceback
        os.makedirs(args.dir, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        where = args.trace or Path(tmp) / "trace"
        progress(f"trace: {where}")
        steps, wrote, size, disk = prepare_trace(where, args)
        how = "reused" if wrote is None else f"written in {wrote:.1f} s"
        print(
            f"trace:   {steps:,} steps, {size / 2**20:.1f} MiB in files ({disk / 2**20:.1f} MiB "
            f"of disk blocks), {how}: {where}"
        )
        if "memory" in only:
            progress("peak memory: two child processes")
            report["launcher"] = memory_figures()["maxrss"]
            report["empty"] = run_child("empty", None, args)
            report["memory"] = run_child("memory", where, args)
            loads["memory"] = loadavg()
        if "first" in only:
            progress(f"first screen: {args.runs} x 3 processes")
            try:
                report["first"] = first_screen(where, args.runs)
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                failed.append(f"first screen: {exc}")
            loads["first"] = loadavg()
        if "keys" in only:
            progress("keypresses: one app in this process")
            try:
                report["keys"] = asyncio.run(keypresses(where, steps, args))
            except Exception as exc:  # report it and go on: the other tables still stand
                failed.append(f"keypresses: {type(exc).__name__}: {exc}")
            loads["keys"] = loadavg()
    for problem in failed:
        print(f"\nFAILED {problem}")
    if "first" in report:
        print_first(report["first"], loads["first"])
    if "keys" in report:
        print_keys(report["keys"], steps, loads["keys"])
    if "memory" in report:
        print_memory(report, loads["memory"])
    report["load_end"] = loadavg()
    print(f"\nload:    {report['load_end']} at the end (1/5/15 min)")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
