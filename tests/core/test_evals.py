"""Evals: what eval functions may return, contexts from runs and traces, discovery, hook, pytest."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from looplet_core import (
    AskApproval,
    EvalContext,
    EvalHook,
    EvalResult,
    StopReason,
    discover_evals,
    run_evals,
)
from looplet_core.evals import find_traces, run_eval
from looplet_core.evals.pytest_plugin import eval_cases

from .helpers import run
from .trace_helpers import SCRIPT, record

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def ctx(tmp_path) -> EvalContext:
    _, result, _, _ = record(tmp_path / "trace")
    return EvalContext.from_result(result, task="Do the thing.")


@pytest.mark.parametrize(
    ("fn", "score", "passed"),
    [
        (lambda c: True, 1.0, True),
        (lambda c: False, 0.0, False),
        (lambda c: 0.75, 0.75, True),
        (lambda c: 0.25, 0.25, False),
        (lambda c: 1, 1.0, True),
        (lambda c: EvalResult(0.9, passed=False, detail="too slow"), 0.9, False),
        (lambda c: EvalResult(0.3), 0.3, False),
    ],
)
def test_bool_float_and_eval_result_returns_are_scored(ctx, fn, score, passed):
    result = run_eval(fn, ctx, name="e")
    assert (result.score, result.passed, result.error) == (score, passed, None)


def test_failed_assert_is_a_failure_with_its_message(ctx):
    def eval_answer(c):
        assert c.final_answer == "nope", "wrong answer"

    result = run_eval(eval_answer, ctx)
    assert (result.name, result.passed, result.error, result.detail) == (
        "eval_answer",
        False,
        None,
        result.detail,
    )
    assert result.detail.startswith("wrong answer")


def test_assert_style_eval_that_returns_nothing_passes(ctx):
    def eval_steps(c):
        assert c.steps

    assert run_eval(eval_steps, ctx).passed is True


def test_exception_is_an_error_naming_its_type_not_a_silent_fail(ctx):
    def eval_broken(c):
        return c.no_such_attribute

    result = run_eval(eval_broken, ctx)
    assert result.passed is False and result.score == 0.0
    assert result.error is not None and result.error.startswith("AttributeError")
    assert "test_evals.py" in result.detail


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "returned NoneType and has no assert"),
        ("yes", "returned str"),
        (1.5, "not in [0, 1]"),
        (float("nan"), "not in [0, 1]"),
        (EvalResult(-0.1), "not in [0, 1]"),
    ],
)
def test_unusable_returns_are_errors(ctx, value, message):
    result = run_eval(lambda c: value, ctx)
    assert result.passed is False and message in (result.error or "")


def test_context_from_a_trace_matches_the_context_from_the_live_run(tmp_path):
    _, result, _, _ = record(tmp_path, task="Do the thing.")
    live = EvalContext.from_result(result, task="Do the thing.")
    saved = EvalContext.from_trace(tmp_path)
    for c in (live, saved):
        assert c.tool_sequence == ["greet", "add", "boom", "search", "done"]
        assert [s.number for s in c.errors] == [3]
        assert c.final_answer == {"answer": "Greeted Alice; 1 + 2 = 3."}
        assert c.stop_reason is StopReason.DONE and c.completed
        assert c.called("boom") and c.count("greet") == 1 and not c.called("slow")
        assert c.task == "Do the thing."
    assert saved.trace is not None and saved.source == str(tmp_path)
    assert saved.usage == live.usage and saved.llm_calls == live.llm_calls == 4


def write_evals(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "shared.py").write_text("EXPECTED_TOOLS = {'greet', 'done'}\n")
    (folder / "eval_agent.py").write_text(
        textwrap.dedent("""
        from shared import EXPECTED_TOOLS

        def eval_finished(ctx):
            return ctx.completed

        def eval_used_expected_tools(ctx):
            return EXPECTED_TOOLS <= set(ctx.tool_sequence)

        def eval_few_errors(ctx):
            return 1.0 - len(ctx.errors) / max(1, len(ctx.steps))

        def eval_never_boom(ctx):
            assert not ctx.called("boom"), "boom was called"

        def helper(ctx):
            return False
    """)
    )
    (folder / "notes.py").write_text("def eval_not_collected(ctx):\n    return False\n")
    return folder


def test_discovery_finds_eval_functions_in_eval_files_only(tmp_path):
    found = discover_evals(write_evals(tmp_path / "evals"))
    assert [f.name for f in found] == [
        "eval_finished",
        "eval_used_expected_tools",
        "eval_few_errors",
        "eval_never_boom",
    ]
    assert discover_evals(tmp_path / "evals" / "notes.py")[0].name == "eval_not_collected"
    with pytest.raises(FileNotFoundError):
        discover_evals(tmp_path / "missing")


def test_run_evals_reports_scores_and_failures(tmp_path):
    record(tmp_path / "trace")
    report = run_evals(
        discover_evals(write_evals(tmp_path / "evals")), EvalContext.from_trace(tmp_path / "trace")
    )
    assert [r.passed for r in report.results] == [True, True, True, False]
    assert report.score == pytest.approx((1 + 1 + 0.8 + 0) / 4)
    assert not report.passed
    assert "FAIL" in report.format() and "boom was called" in report.format()


def test_eval_hook_scores_the_run_when_it_ends_not_when_it_pauses():
    seen = []
    hook = EvalHook([lambda c: c.completed, lambda c: c.count("greet") == 1], on_report=seen.append)
    run(SCRIPT, hooks=[hook])
    assert hook.report is not None and hook.report.passed and seen == [hook.report]

    class Ask:
        def pre_dispatch(self, state, log, tc, step):
            return AskApproval("check")

    paused = EvalHook([lambda c: True])
    _, result, _, _ = run(SCRIPT, hooks=[Ask(), paused])
    assert result.stop_reason is StopReason.AWAITING_APPROVAL and paused.report is None


def test_eval_cases_pair_every_trace_with_every_eval(tmp_path):
    for name in ("a", "b"):
        record(tmp_path / "traces" / name)
    cases = eval_cases(tmp_path / "traces", write_evals(tmp_path / "evals"))
    assert [str(c) for c in cases][:2] == ["a::eval_finished", "a::eval_used_expected_tools"]
    assert len(cases) == 8
    cases[0].check()
    with pytest.raises(AssertionError, match="boom was called"):
        cases[3].check()
    assert find_traces(tmp_path / "traces" / "a") == [tmp_path / "traces" / "a"]


@pytest.mark.slow
def test_pytest_runs_eval_files_over_a_folder_of_traces(tmp_path):
    record(tmp_path / "traces" / "run-a")
    record(
        tmp_path / "traces" / "run-b",
        [{"tool": "greet", "args": {"name": "Bo"}}, {"tool": "done", "args": {"answer": "hi"}}],
    )
    write_evals(tmp_path / "evals")
    (tmp_path / "pytest.ini").write_text("[pytest]\nfilterwarnings = error\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "looplet_core.evals.pytest_plugin",
            "-p",
            "no:cacheprovider",
            "--looplet-traces",
            "traces",
            "evals",
            "-v",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert out.returncode == 1, out.stdout + out.stderr
    assert "eval_agent.py::eval_finished[run-a] PASSED" in out.stdout
    assert "eval_agent.py::eval_never_boom[run-a] FAILED" in out.stdout
    assert "eval_agent.py::eval_never_boom[run-b] PASSED" in out.stdout  # asserted, no return
    assert "boom was called" in out.stdout
    assert "1 failed, 7 passed" in out.stdout
    assert "warning" not in out.stdout.lower()


@pytest.mark.slow
def test_plugin_does_nothing_without_traces(tmp_path):
    write_evals(tmp_path / "evals")
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "looplet_core.evals.pytest_plugin",
            "-p",
            "no:cacheprovider",
            "evals",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert "no tests ran" in out.stdout, out.stdout
