"""Damaged traces and checkpoints, opened the ways a user opens them: ``python -m looplet_core
show``, ``looplet-tui replay`` (its start-up and the debugger itself) and ``looplet-tui resume``.

Each damage is a clear message (one line, naming the file) or a trace that still reads; never a
traceback, never a crash of the debugger.  The readers' own fuzzing (tests/core/test_fuzz_*.py)
covers far more damage at the parser level; this covers the commands on top of them.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from looplet_core import FileCheckpointStore, LoopConfig, composable_loop
from looplet_core import cli as core_cli
from looplet_core.state import DefaultState
from looplet_tui.app import DebuggerApp
from looplet_tui.cli import replay_session, resume_session
from looplet_tui.session import SessionError
from tests.core.durable_helpers import backend, counting_plan, durable_tools
from tests.core.trace_helpers import record, rewrite_step, step_records
from tests.tui.pilot import screen_text, until

STEP_2 = "steps.jsonl, step 2's line"
DAMAGE: dict[str, Callable[[bytes], bytes]] = {
    "truncated": lambda data: data[: len(data) // 2],
    "empty": lambda data: b"",
    "byte-flipped": lambda data: data[: len(data) // 2] + b"\x00" + data[len(data) // 2 + 1 :],
    "not-utf8": lambda data: b"\xff\xfe\xfa" + data,
    "garbage": lambda data: bytes(range(256)) * 4,
    "deeply-nested": lambda data: b"[" * 200_000 + b"]" * 200_000,
}
TRACE_FILES = ["manifest.json", "events.jsonl", "messages.jsonl", "steps.jsonl", STEP_2]


@pytest.fixture(scope="module")
def trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("trace") / "run"
    record(path, config=LoopConfig(max_steps=20, record_prompts=True))
    return path


def damaged_copy(trace: Path, tmp_path: Path, name: str, how: str) -> Path:
    copy = tmp_path / "damaged"
    shutil.copytree(trace, copy)
    if name == STEP_2:  # step 2's line alone, where the log says it is
        rewrite_step(copy, 2, DAMAGE[how](step_records(copy)[2]))
        return copy
    target = copy / name
    target.write_bytes(DAMAGE[how](target.read_bytes()))
    return copy


@pytest.mark.parametrize("how", list(DAMAGE))
@pytest.mark.parametrize("name", TRACE_FILES)
def test_show_and_replay_say_what_is_wrong_or_read_what_is_left(
    trace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, how: str
) -> None:
    copy = damaged_copy(trace, tmp_path, name, how)

    code = core_cli.main(["show", str(copy)])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert code in (0, 2), (code, err)
    if code == 2:
        assert err.count("\n") == 1 and str(copy) in err, err

    try:
        session = replay_session(copy)
    except SessionError as exc:
        assert "\n" not in str(exc) and str(copy) in str(exc)
    else:
        assert session.reader is not None


@pytest.mark.parametrize(("name", "how"), [(STEP_2, "truncated"),
                                           ("messages.jsonl", "garbage")])  # fmt: skip
async def test_the_debugger_plays_a_damaged_trace_to_where_it_can_and_says_why(
    trace: Path, tmp_path: Path, name: str, how: str
) -> None:
    copy = damaged_copy(trace, tmp_path, name, how)
    app = DebuggerApp(replay_session(copy), timings=False)
    async with app.run_test(size=(120, 36)) as pilot:
        for key in ("right", "right", "right", "1"):
            await pilot.press(key)
            await pilot.pause()
        await until(pilot, lambda: _explained(screen_text(app)), "the damage explained on screen")
        assert app.is_running  # explained, not crashed


def _explained(screen: str) -> bool:
    words = screen.lower()
    return any(w in words for w in ("cannot be read", "cannot read", "corrupt", "not valid"))


def _checkpointed_run(root: Path) -> Path:
    store = FileCheckpointStore(root / "cp", layout="files")  # damage is done to one file
    state = DefaultState()
    for step in composable_loop(
        llm=backend(counting_plan(10)),
        tools=durable_tools(),
        task="count",
        config=LoopConfig(max_steps=20, checkpoint=store),
        state=state,
    ):
        if step.number == 3:
            break
    return root / "cp"


AGENT = """
from tests.core.durable_helpers import backend, counting_plan, durable_tools

def make_agent():
    return {"llm": backend(counting_plan(10)), "tools": durable_tools(), "task": "count"}
"""


def test_resume_past_a_damaged_record_of_the_log_is_one_line_naming_the_log(
    tmp_path: Path,
) -> None:
    # The default layout: damage inside the log (record 2 of 3) is named by file and offset,
    # on one line, and the intact checkpoint it names resumes.
    directory = tmp_path / "cp"
    store = FileCheckpointStore(directory)
    state = DefaultState()
    for step in composable_loop(
        llm=backend(counting_plan(10)),
        tools=durable_tools(),
        task="count",
        config=LoopConfig(max_steps=20, checkpoint=store),
        state=state,
    ):
        if step.number == 3:
            break
    log = directory / state.run_id / "checkpoints.log"
    data = bytearray(log.read_bytes())
    data[data.index(b"\n2 ") + 50] ^= 0x01
    log.write_bytes(bytes(data))
    agent = tmp_path / "agent.py"
    agent.write_text(AGENT)
    with pytest.raises(SessionError) as err:
        resume_session(directory, None, str(agent))
    message = str(err.value)
    assert "\n" not in message and str(log) in message and "damaged at byte" in message
    intact = message.rsplit("--checkpoint ", 1)[1].split(maxsplit=1)[0]
    assert intact == f"{state.run_id}-000001"
    session = resume_session(directory, None, str(agent), checkpoint_id=intact)
    assert session.state is not None and session.state.step_number == 1


@pytest.mark.parametrize("how", list(DAMAGE))
def test_resume_of_a_damaged_checkpoint_is_one_line_naming_the_file(
    tmp_path: Path, how: str
) -> None:
    directory = _checkpointed_run(tmp_path)
    [run_dir] = [p for p in directory.iterdir() if p.is_dir()]
    newest = sorted(run_dir.glob("*.json"))[-1]
    newest.write_bytes(DAMAGE[how](newest.read_bytes()))
    agent = tmp_path / "agent.py"
    agent.write_text(AGENT)
    with pytest.raises(SessionError) as err:
        resume_session(directory, None, str(agent))
    message = str(err.value)
    assert "\n" not in message and newest.name in message
    if "--checkpoint" in message:  # the way out it names works
        intact = message.rsplit("--checkpoint ", 1)[1].split(maxsplit=1)[0]
        session = resume_session(directory, None, str(agent), checkpoint_id=intact)
        assert session.state is not None and session.state.step_number == 2
