"""``python -m looplet_core show | eval | diff``."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from looplet_core import BaseToolRegistry, ProvenanceSink, ToolSpec
from looplet_core.cli import main

from .helpers import run
from .trace_helpers import SCRIPT, record

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_show_prints_the_run_its_steps_and_totals(tmp_path):
    record(tmp_path, task="Greet and add.")
    code, out, _ = cli("show", str(tmp_path))
    assert code == 0
    assert "looplet-trace v2, ended" in out and "task   Greet and add." in out
    assert "#1 ✓ greet(name='Alice') → 1 key" in out
    assert "#3 ✗ boom() → execution: ValueError: kaboom" in out
    assert "stop   done: the model called done" in out
    assert "totals 5 steps (1 not ok), 4 model calls" in out


def test_show_escapes_terminal_control_characters_from_tools(tmp_path):
    tools = BaseToolRegistry(
        [
            ToolSpec("paint", "Paint.", {}, lambda: "\x1b[2J\x1b[31mred\rover"),
            ToolSpec("done", "Finish.", {"answer": "str"}, lambda *, answer: answer),
        ]
    )
    run(
        [{"tool": "paint"}, {"tool": "done", "args": {"answer": "ok"}}],
        tools=tools,
        hooks=[ProvenanceSink(tmp_path)],
    )
    _, out, _ = cli("show", str(tmp_path))
    assert "\x1b" not in out and "\r" not in out
    assert "\\x1b[2J\\x1b[31mred over" in out


def test_show_on_a_directory_that_is_not_a_trace_exits_2_with_the_reason(tmp_path):
    code, out, err = cli("show", str(tmp_path))
    assert code == 2 and out == ""
    assert "is not a trace: it has no manifest.json" in err


def write_evals(path: Path) -> Path:
    path.write_text(
        textwrap.dedent("""
        def eval_finished(ctx):
            return ctx.completed

        def eval_no_errors(ctx):
            return not ctx.errors
    """)
    )
    return path


def two_traces(tmp_path: Path) -> Path:
    record(tmp_path / "traces" / "with-error")
    record(
        tmp_path / "traces" / "clean",
        [{"tool": "greet", "args": {"name": "Bo"}}, {"tool": "done", "args": {"answer": "hi"}}],
    )
    return tmp_path / "traces"


def test_eval_fails_without_a_threshold_when_any_eval_fails(tmp_path):
    traces = two_traces(tmp_path)
    evals = write_evals(tmp_path / "eval_run.py")
    code, out, err = cli("eval", str(traces), "--evals", str(evals))
    assert code == 1
    assert "FAIL 0.50" in out and "eval_no_errors: score 0.00" in out
    assert "PASS 1.00" in out
    assert "2 traces x 2 evals: mean score 0.750, 3/4 passed, 0 errors" in out
    assert "evaluated 2/2 traces" in err  # progress, on stderr


def test_eval_threshold_decides_the_exit_status(tmp_path):
    traces = two_traces(tmp_path)
    evals = write_evals(tmp_path / "eval_run.py")
    assert cli("eval", str(traces), "--evals", str(evals), "--threshold", "0.7")[0] == 0
    code, out, _ = cli("eval", str(traces), "--evals", str(evals), "--threshold", "0.8")
    assert code == 1 and "threshold 0.8: NOT met" in out


def test_eval_counts_an_unreadable_trace_as_failing_every_eval(tmp_path):
    traces = two_traces(tmp_path)
    (traces / "clean" / "events.jsonl").write_text("")
    code, out, _ = cli("eval", str(traces), "--evals", str(write_evals(tmp_path / "e.py")))
    assert code == 1 and "unreadable trace" in out


def test_eval_with_no_traces_or_no_evals_exits_2(tmp_path):
    evals = write_evals(tmp_path / "eval_run.py")
    (tmp_path / "empty").mkdir()
    assert cli("eval", str(tmp_path / "empty"), "--evals", str(evals))[0] == 2
    (tmp_path / "none.py").write_text("x = 1\n")
    traces = two_traces(tmp_path)
    code, _, err = cli("eval", str(traces), "--evals", str(tmp_path / "none.py"))
    assert code == 2 and "no eval_* functions" in err


def test_diff_of_identical_behaviour_exits_0(tmp_path):
    record(tmp_path / "a")
    record(tmp_path / "b")
    code, out, _ = cli("diff", str(tmp_path / "a"), str(tmp_path / "b"))
    assert code == 0 and "no divergence: 5 steps agree" in out


def test_diff_aligns_steps_and_names_the_first_divergence(tmp_path):
    record(tmp_path / "a")
    changed = list(SCRIPT)
    changed[2] = {"tool": "search", "args": {"query": "dogs"}}
    record(tmp_path / "b", changed)
    code, out, _ = cli("diff", str(tmp_path / "a"), str(tmp_path / "b"))
    assert code == 1
    lines = out.splitlines()
    assert lines[1].startswith("#1  =") and lines[4].startswith("#4  ≠")
    assert "first divergence: step 4: args differs" in out
    assert 'expected: {"query": "cats"}' in out and 'got:      {"query": "dogs"}' in out


def test_module_entry_point_runs(tmp_path):
    record(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-m", "looplet_core", "show", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0 and "totals 5 steps" in out.stdout
    usage = subprocess.run(
        [sys.executable, "-m", "looplet_core"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert usage.returncode == 2 and "show" in usage.stderr


def test_show_prompt_prints_a_call_as_the_full_prompt_file_would_hold_it(tmp_path):
    """Readable prompt files are off by default; ``--prompt N`` gives the same text from the
    trace itself, so two prompts can still be diffed."""
    plain, readable = tmp_path / "plain", tmp_path / "readable"
    record(plain, task="Greet and add.")
    record(readable, task="Greet and add.", sink=ProvenanceSink(readable, prompt_files="full"))
    assert not (plain / "llm").exists()
    for call in (1, 3):
        code, out, _ = cli("show", str(plain), "--prompt", str(call))
        assert code == 0
        assert out == (readable / "llm" / f"{call:06d}.prompt.txt").read_text()
    code, out, _ = cli("show", str(plain), "--response", "2")
    assert code == 0 and out == (readable / "llm" / "000002.response.txt").read_text()


def test_show_prompt_of_a_call_the_trace_lacks_exits_2_naming_its_range(tmp_path):
    record(tmp_path, task="Greet and add.")
    code, out, err = cli("show", str(tmp_path), "--prompt", "9")
    assert code == 2 and out == ""
    assert "has no model call 9 (its calls are numbered 1 to 4" in err


def test_show_prompt_escapes_terminal_control_characters(tmp_path):
    tools = BaseToolRegistry(
        [
            ToolSpec("paint", "Paint.", {}, lambda: "\x1b[2Jred\rover"),
            ToolSpec("done", "Finish.", {"answer": "str"}, lambda *, answer: answer),
        ]
    )
    run(
        [{"tool": "paint"}, {"tool": "done", "args": {"answer": "ok"}}],
        tools=tools,
        hooks=[ProvenanceSink(tmp_path)],
    )
    _, out, _ = cli("show", str(tmp_path), "--prompt", "2")
    assert "\x1b" not in out and "\r" not in out and "\\x1b[2Jred" in out
