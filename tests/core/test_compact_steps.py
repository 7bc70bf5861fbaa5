"""``Step.from_dict(compact=True)``, the replay reader's read: the same steps in less memory.

The compact read shares a step's ``ToolCall`` with its model call, interns repeated strings,
packs the context counts and leaves empty lists unmade (``looplet_core/compactread.py``).  Each
of those must be invisible: a compact step compares, prints and serialises equal to the plain
read of the same record, on real traces with batches, errors, rewritten arguments, hook
decisions and sub-agents two deep.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from looplet_core import Allow, LoopConfig, Step, TraceReader
from looplet_core.compactread import shared_text

from .parallel_helpers import lookup_tools
from .subagent_helpers import two_deep
from .trace_helpers import SCRIPT, record


class _Titled:
    """Rewrites greet's argument, so the step records ``original_args`` and a decision."""

    def pre_dispatch(self, state: Any, log: Any, tc: Any, step: int) -> Allow | None:
        if tc.tool == "greet":
            return Allow(args={"name": str(tc.args["name"]).upper()})
        return None


def _records(trace: Path) -> list[dict[str, Any]]:
    lines = (trace / "steps.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def _assert_same(plain: Step, compact: Step) -> None:
    # serialised first: comparing makes the lists and dicts the compact step left unmade
    assert compact.to_dict() == plain.to_dict()
    assert compact.pretty() == plain.pretty()
    assert compact == plain
    assert Step.from_dict(compact.to_dict(), compact=True) == plain


def _check_trace(trace: Path) -> list[Step]:
    raws = _records(trace)
    steps = [(Step.from_dict(raw), Step.from_dict(raw, compact=True)) for raw in raws]
    for plain, compact in steps:
        _assert_same(plain, compact)
    reader = TraceReader(trace)  # the reader reads compactly
    for plain, _ in steps:
        assert reader.step(plain.number).to_dict() == plain.to_dict()
    return [plain for plain, _ in steps]


def test_a_trace_with_errors_and_rewrites_reads_the_same_both_ways(tmp_path: Path) -> None:
    record(tmp_path, SCRIPT, hooks=[_Titled()])
    steps = _check_trace(tmp_path)
    assert any(s.status.value == "error" and s.tool_result.error_kind for s in steps)
    assert any(s.original_args is not None for s in steps)
    assert any(s.decisions for s in steps)


def test_a_trace_with_a_batch_reads_the_same_both_ways(tmp_path: Path) -> None:
    calls: list[str] = []
    script: list[Any] = [
        [{"tool": "lookup", "args": {"key": k}} for k in ("a", "b", "c")],
        {"tool": "done", "args": {"answer": "ok"}},
    ]
    record(
        tmp_path,
        script,
        tools=lookup_tools(calls),
        config=LoopConfig(max_steps=10, parallel_tools=4),
    )
    steps = _check_trace(tmp_path)
    assert sum(s.batch is not None for s in steps) == 3


def test_sub_agent_steps_read_the_same_both_ways(tmp_path: Path) -> None:
    two_deep(tmp_path, prompt_files="new")
    raws = _records(tmp_path)
    assert any(raw.get("child") for raw in raws)
    for raw in raws:
        plain, compact = Step.from_dict(raw), Step.from_dict(raw, compact=True)
        _assert_same(plain, compact)
    editor = TraceReader(tmp_path).child(2)
    researcher = TraceReader(tmp_path).child(2, 1)
    assert [s.tool for s in editor.steps] == ["researcher", "done"]
    assert [s.tool for s in researcher.steps] == ["lookup", "lookup", "done"]


def test_the_step_and_its_model_call_share_one_tool_call(tmp_path: Path) -> None:
    record(tmp_path)
    compact = Step.from_dict(_records(tmp_path)[0], compact=True)
    assert compact.llm_call is not None and compact.tool_call is not None
    assert compact.llm_call.tool_calls[0] is compact.tool_call
    plain = Step.from_dict(_records(tmp_path)[0])
    assert plain.llm_call is not None
    assert plain.llm_call.tool_calls[0] is not plain.tool_call  # the plain read: two copies


def test_a_shared_tool_call_stays_the_steps_when_the_list_is_changed(tmp_path: Path) -> None:
    record(tmp_path)
    raw = _records(tmp_path)[0]
    compact = Step.from_dict(raw, compact=True)
    assert compact.llm_call is not None
    compact.llm_call.tool_calls.clear()  # the list, made on first read, is the step's own
    assert compact.tool_call is not None and compact.tool_call.tool == "greet"
    assert Step.from_dict(raw, compact=True).llm_call.tool_calls  # type: ignore[union-attr]


def test_calls_that_differ_from_the_step_are_not_shared(tmp_path: Path) -> None:
    record(tmp_path, SCRIPT, hooks=[_Titled()])
    raw = next(r for r in _records(tmp_path) if r.get("original_args"))
    compact = Step.from_dict(raw, compact=True)
    assert compact.llm_call is not None and compact.tool_call is not None
    # the step has the rewritten arguments, the model call what the model asked
    assert compact.llm_call.tool_calls[0] is not compact.tool_call
    assert compact.llm_call.tool_calls[0].args == {"name": "Alice"}
    assert compact.tool_call.args == {"name": "ALICE"}


def test_repeated_strings_are_one_object(tmp_path: Path) -> None:
    record(tmp_path)
    raws = _records(tmp_path)
    a, b = (Step.from_dict(raw, compact=True) for raw in raws[:2])
    assert a.run_id is b.run_id and a.run_id == raws[0]["run_id"]
    assert a.branch_id is b.branch_id
    assert a.context is not None and b.context is not None
    assert a.context.tier is b.context.tier
    assert shared_text("add") is shared_text("".join(["a", "dd"]))


def test_packed_counts_read_back_as_the_recorded_dict(tmp_path: Path) -> None:
    record(tmp_path)
    raw = _records(tmp_path)[0]
    compact = Step.from_dict(raw, compact=True)
    assert compact.context is not None
    assert compact.context.by_role == raw["context"]["by_role"]
    assert list(compact.context.by_role) == list(raw["context"]["by_role"])
