"""The command line: a one-line error for every bad input, a clear word when textual is missing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from looplet_tui.__main__ import main


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "looplet_tui", *args],
        check=False,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
    )


def one_line_error(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(list(args)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err  # exactly one line, no traceback
    assert err.startswith("looplet-tui: ")
    return err


def test_missing_agent_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert "no such file: nowhere/agent.py" in one_line_error(capsys, "run", "nowhere/agent.py")


def test_agent_file_without_the_factory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    agent = tmp_path / "agent.py"
    agent.write_text("x = 1\n")
    err = one_line_error(capsys, "run", str(agent))
    assert "has no make_agent()" in err and ":your_factory" in err
    err = one_line_error(capsys, "run", f"{agent}:build")
    assert "has no build()" in err


def test_factory_that_returns_the_wrong_thing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    agent = tmp_path / "agent.py"
    agent.write_text(
        "def make_agent():\n    return [1, 2]\n"
        "def partial():\n    return {'task': 'x'}\n"
        "def broken():\n    raise RuntimeError('no key')\n"
    )
    assert "returned list; it must return a dict" in one_line_error(capsys, "run", str(agent))
    assert "returned no llm, tools" in one_line_error(capsys, "run", f"{agent}:partial")
    assert "raised RuntimeError: no key" in one_line_error(capsys, "run", f"{agent}:broken")


def test_agent_file_that_fails_to_import(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    agent = tmp_path / "agent.py"
    agent.write_text("import not_a_module_anywhere\n")
    err = one_line_error(capsys, "run", str(agent))
    assert "failed to import: ModuleNotFoundError" in err


def test_module_factory_that_does_not_exist(capsys: pytest.CaptureFixture[str]) -> None:
    assert "cannot import module 'no_such_pkg.agent'" in one_line_error(
        capsys, "run", "no_such_pkg.agent:make"
    )


def test_replay_of_a_directory_that_is_not_a_trace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = one_line_error(capsys, "replay", str(tmp_path))
    assert "is not a trace: it has no manifest.json, and no directory in it has one" in err
    assert "no such directory" in one_line_error(capsys, "replay", str(tmp_path / "gone"))


def test_resume_without_a_known_agent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = one_line_error(capsys, "resume", str(tmp_path))
    assert "does not say which agent" in err and "--agent" in err
    assert "no such checkpoint directory" in one_line_error(
        capsys, "resume", str(tmp_path / "gone")
    )


def test_module_form_builds_the_demo_session() -> None:
    from argparse import Namespace

    from looplet_tui.cli import build_session
    from looplet_tui.session import RunSession

    session = build_session(
        Namespace(command="run", target="looplet_tui.demo:make_agent", checkpoint_dir=None)
    )
    assert isinstance(session, RunSession)
    assert "save_csv" in session.tools


def test_friendly_message_when_textual_is_missing() -> None:
    code = (
        "import sys; sys.modules['textual'] = None; "
        "from looplet_tui.__main__ import main; sys.exit(main(['demo']))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 2
    assert 'pip install "looplet-lab[tui]"' in out.stderr
    assert "Traceback" not in out.stderr


def test_help_lists_every_command() -> None:
    out = run_cli("--help")
    assert out.returncode == 0
    for command in ("demo", "run", "replay", "resume"):
        assert command in out.stdout


def test_the_example_agent_file_loads_by_path_and_by_module() -> None:
    from argparse import Namespace

    from looplet_tui.cli import build_session
    from looplet_tui.session import RunSession

    root = Path(__file__).resolve().parents[2]
    for target in (
        str(root / "looplet_tui/examples/notes_agent.py"),
        "looplet_tui.examples.notes_agent:make_agent",
    ):
        session = build_session(Namespace(command="run", target=target, checkpoint_dir=None))
        assert isinstance(session, RunSession)
        assert session.tools.names() == ["list_notes", "add_note"]
    assert session.breakpoints_file is not None
    assert session.breakpoints_file.name == "looplet_tui.examples.notes_agent.breakpoints.json"


def test_replay_takes_the_agent_a_rerun_may_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from argparse import Namespace

    from looplet_tui.cli import build_session
    from looplet_tui.session import ReplaySession
    from tests.tui.scenarios import record_trace

    trace = record_trace(tmp_path / "trace")
    assert "no such file: nowhere/agent.py" in one_line_error(
        capsys, "replay", str(trace), "--agent", "nowhere/agent.py"
    )
    agent = tmp_path / "agent.py"
    agent.write_text("x = 1\n")
    assert "has no make_agent()" in one_line_error(
        capsys, "replay", str(trace), "--agent", str(agent)
    )
    target = "looplet_tui.demo:make_agent"
    session = build_session(Namespace(command="replay", trace=str(trace), agent=target))
    assert isinstance(session, ReplaySession) and session.agent == target
    plain = build_session(Namespace(command="replay", trace=str(trace), agent=None))
    assert isinstance(plain, ReplaySession) and plain.agent is None


@pytest.mark.parametrize("delay", ["-5", "nan", "inf", "soon"])
def test_demo_rejects_a_delay_that_is_not_zero_or_more_seconds(
    delay: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["demo", "--delay", delay])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "argument --delay" in err and ("seconds" in err or "delay" in err)
    assert "Traceback" not in err


def test_resume_names_its_checkpoint_directory_one_way_only() -> None:
    shown = run_cli("resume", "--help")
    assert shown.returncode == 0
    assert "checkpoints" in shown.stdout  # the positional directory
    assert "--checkpoints" not in shown.stdout


def test_replay_of_the_directory_given_to_trace_opens_the_run_inside(tmp_path: Path) -> None:
    from looplet_tui.cli import replay_session
    from tests.tui.scenarios import record_trace

    record_trace(tmp_path / "traces" / "run-1")
    session = replay_session(tmp_path / "traces")
    assert session.reader is not None and session.reader.path == tmp_path / "traces" / "run-1"
    assert session.title.startswith("replay · run-1")


def test_breakpoints_are_kept_with_the_run_or_in_the_state_directory_never_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from looplet_tui.__main__ import _parser
    from looplet_tui.cli import build_session

    here, state = tmp_path / "repo", tmp_path / "state"
    here.mkdir()
    monkeypatch.chdir(here)
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    demo = build_session(_parser().parse_args(["demo"]))
    assert demo.breakpoints_file == state / "looplet" / "demo.breakpoints.json"
    checkpointed = build_session(_parser().parse_args(["demo", "--checkpoints", "runs"]))
    assert checkpointed.breakpoints_file == Path("runs") / "breakpoints.json"
    module = build_session(_parser().parse_args(["run", "looplet_tui.demo:make_agent"]))
    assert module.breakpoints_file == state / "looplet" / "looplet_tui.demo.breakpoints.json"
    assert module.breakpoints_file is not None
    from looplet_tui.live.breakpoints import BreakpointSet

    BreakpointSet().save(module.breakpoints_file)  # the state directory is made on first save
    assert module.breakpoints_file.is_file()
    assert sorted(p.name for p in here.iterdir()) == ["runs"]  # only what was asked for
