"""A trace keeps each sub-agent run under its parent step, prompts included, written once, and
``TraceReader`` reads the tree back: ``child(...)``, ``tree()`` and ``step_prompt(...)``."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import cast

import pytest

from looplet_core import (
    BaseToolRegistry,
    Decision,
    LoopConfig,
    MemoryCheckpointStore,
    Message,
    MockLLMBackend,
    ProvenanceSink,
    Step,
    StepStatus,
    ToolCall,
    TraceError,
    TraceReader,
    composable_loop,
    resume,
    subagent,
)
from looplet_core.cli import diff, show
from looplet_core.provenance.children import _resumed_prompt
from looplet_core.provenance.compare import compare_steps, first_divergence
from looplet_core.provenance.lazyprompt import LazyPrompt
from looplet_core.provenance.prompts import PromptWriter
from looplet_core.records import LLMCall
from tests.core.durable_helpers import backend
from tests.core.subagent_helpers import two_deep
from tests.core.test_subagent_approvals import ERASE_OWLS
from tests.core.trace_helpers import rewrite_step, step_record


def test_the_reader_walks_the_tree_of_sub_agent_runs_two_deep(tmp_path: Path):
    two_deep(tmp_path)
    reader = TraceReader(tmp_path)
    assert [e.child for e in reader.entries] == [None, "editor", None]
    assert [(path, step.tool) for path, step in reader.tree()] == [
        ((1,), "lookup"),
        ((2,), "editor"),
        ((2, 1), "researcher"),
        ((2, 1, 1), "lookup"),
        ((2, 1, 2), "lookup"),
        ((2, 1, 3), "done"),
        ((2, 2), "done"),
        ((3,), "done"),
    ]
    editor = reader.child(2)
    assert editor.agent == "editor" and editor.task == "write about owls"
    researcher = reader.child(2, 1)
    assert researcher.agent == "researcher" and researcher.answer == "owls hunt at night"
    assert researcher.steps[1].tool_result.data == "notes on bats"


def test_a_child_step_s_prompt_is_in_the_trace_once_and_read_back(tmp_path: Path):
    two_deep(tmp_path)
    reader = TraceReader(tmp_path)
    prompt = reader.step_prompt(2, 1, 2)  # researcher's second step: after looking up owls
    assert prompt[1].role == "user" and prompt[1].content == "owls, in depth"
    assert any(m.role == "tool" and m.content == "notes on owls" for m in prompt)
    lazy = reader.child(2, 1).steps[1].prompt  # the same, read as a viewer reads it
    assert lazy is not None and [m.content for m in lazy] == [m.content for m in prompt]
    editor_prompt = reader.step_prompt(2, 1)
    assert editor_prompt[1].content == "write about owls"
    assert reader.step_prompt(1)[1].content == "study owls"  # a parent step's, as before
    # written once: the researcher's stream grows by the new messages only, and no step file
    # holds a prompt
    stream = (tmp_path / "children/000002/000001/messages.jsonl").read_text().splitlines()
    assert len(stream) == len(reader.step_prompt(2, 1, 3))
    record = step_record(tmp_path, 2)
    inner = record["child"]["steps"][0]["child"]["steps"]
    assert [s["prompt"] for s in inner] == [None, None, None]
    assert all(set(s["prompt_ref"]) == {"offset", "length", "count"} for s in inner)
    assert not (tmp_path / "children/000002/000001/llm").exists()  # none asked for


def test_a_child_gets_readable_prompt_files_when_the_parent_does(tmp_path: Path):
    two_deep(tmp_path, prompt_files="full")
    files = sorted(p.name for p in (tmp_path / "children/000002/000001/llm").iterdir())
    assert files and all(name.endswith(".prompt.txt") for name in files)
    assert TraceReader(tmp_path).step_prompt(2, 1, 2)[1].content == "owls, in depth"


def test_secrets_in_a_child_s_prompt_are_redacted(tmp_path: Path):
    two_deep(tmp_path, secret="sk-child-secret-1234567890")
    for file in tmp_path.rglob("*"):
        if file.is_file():
            assert "sk-child-secret-1234567890" not in file.read_text(errors="replace"), file
    stream = (tmp_path / "children/000002/000001/messages.jsonl").read_text()
    assert "notes on owls[redacted]" in stream  # it was there, and redacted


def test_asking_for_a_child_that_is_not_there_says_which_step(tmp_path: Path):
    two_deep(tmp_path)
    reader = TraceReader(tmp_path)
    with pytest.raises(LookupError, match=r"step 1 \(lookup\) started no sub-agent"):
        reader.child(1)
    with pytest.raises(LookupError, match=r"step 2 › 1 › 2 \(lookup\) started no sub-agent"):
        reader.child(2, 1, 2)
    with pytest.raises(IndexError, match="sub-agent 'editor' of step 2 has no step 9"):
        reader.child(2, 9)


def test_a_damaged_child_entry_is_a_trace_error_naming_the_file(tmp_path: Path):
    two_deep(tmp_path)
    record = step_record(tmp_path, 2)
    saved = json.dumps(record)
    del record["child"]  # the log says step 2 ran "editor"; the record lost it
    rewrite_step(tmp_path, 2, json.dumps(record))
    with pytest.raises(TraceError, match=r"steps.jsonl: step 2 ran sub-agent 'editor'"):
        TraceReader(tmp_path).child(2)
    record = json.loads(saved)
    record["child"]["steps"][0]["child"]["steps"][1]["prompt_ref"] = {"offset": "x"}
    rewrite_step(tmp_path, 2, json.dumps(record))
    with pytest.raises(TraceError, match=r"step 2 › 1 › 2 has an invalid prompt_ref"):
        TraceReader(tmp_path).step(2)
    rewrite_step(tmp_path, 2, saved)
    (tmp_path / "children/000002/000001/messages.jsonl").write_text("")  # the stream is gone
    with pytest.raises(TraceError, match=r"the prompt of step 2 › 1 › 2 .*truncated"):
        TraceReader(tmp_path).step_prompt(2, 1, 2)


def test_show_prints_the_tree_nested(tmp_path: Path):
    two_deep(tmp_path)
    out = io.StringIO()
    show(str(tmp_path), out)
    lines = [re.sub(r" \[\d+ms\]$", "", line) for line in out.getvalue().splitlines()]
    start = next(i for i, line in enumerate(lines) if line.startswith("#2"))
    assert lines[start + 1 : start + 7] == [
        "  └ sub-agent editor: done, 2 step(s)",
        "    #1 ✓ researcher(task='owls, in depth') → owls hunt at night",
        "      └ sub-agent researcher: done, 3 step(s)",
        "        #1 ✓ lookup(topic='owls') → notes on owls",
        "        #2 ✓ lookup(topic='bats') → notes on bats",
        "        #3 ✓ done(answer='owls hunt at night') → owls hunt at night",
    ]


def test_runs_whose_sub_agents_part_diverge_at_the_child_step(tmp_path: Path):
    two_deep(tmp_path / "a")
    two_deep(tmp_path / "b", second="moths")  # the researcher's second lookup differs
    a, b = TraceReader(tmp_path / "a"), TraceReader(tmp_path / "b")
    found = first_divergence(a.steps(), b.steps())
    assert found is not None
    assert (found.step, found.field, found.agent) == (2, "child", "editor")
    assert found.path == (2, 1, 2)
    leaf = found.innermost
    assert (leaf.field, leaf.expected, leaf.got) == (
        "args",
        '{"topic": "bats"}',
        '{"topic": "moths"}',
    )
    assert str(found).startswith("step 2 › 1 › 2 (in sub-agent editor › researcher): args differs")
    assert found.to_dict()["inner"]["inner"]["field"] == "args"
    assert first_divergence(a.steps(), TraceReader(tmp_path / "a").steps()) is None
    out = io.StringIO()
    assert diff(str(tmp_path / "a"), str(tmp_path / "b"), out) == 1
    assert "first divergence: step 2 › 1 › 2 (in sub-agent editor › researcher)" in out.getvalue()


def test_a_sub_agent_run_on_one_side_only_is_a_child_divergence():
    from looplet_core import ChildRun, Step, StopReason, ToolCall

    call = ToolCall("editor", {"task": "t"}, "c1")
    with_child = Step(1, call, child=ChildRun("editor", "t", "r", StopReason.DONE))
    found = compare_steps(with_child, Step(1, call))
    assert found is not None and found.field == "child"
    assert (found.expected, found.got) == ("sub-agent editor", "(no sub-agent run)")


def test_a_child_step_resumed_after_an_approval_pause_has_its_exact_prompt(tmp_path: Path):
    """The paused call's step is rebuilt from the child's checkpoint (no prompts kept there);
    its prompt is the start of the child's next prompt, which the trace then points at."""
    made: list[MockLLMBackend] = []

    def model() -> MockLLMBackend:
        made.append(backend(ERASE_OWLS))
        return made[-1]

    def tools() -> BaseToolRegistry:
        guarded = BaseToolRegistry()

        @guarded.tool(requires_approval=True)
        def erase(topic: str) -> str:
            """Erase notes on a topic."""
            return f"erased {topic}"

        top = BaseToolRegistry()
        top.register(subagent("janitor", "Tidy.", llm=model, tools=guarded, checkpoint=children))
        return top

    children, parents = MemoryCheckpointStore(), MemoryCheckpointStore()
    plan = [{"tool": "janitor", "args": {"task": "erase the owl notes"}}, "tidied"]
    first = list(
        composable_loop(
            llm=backend(plan),
            tools=tools(),
            task="tidy",
            config=LoopConfig(checkpoint=parents),
            hooks=[ProvenanceSink(tmp_path)],
        )
    )
    assert first[-1].status is StepStatus.AWAITING_APPROVAL
    sent_before_pause = list(made[0].requests[0].messages)
    run = resume(
        parents,
        llm=backend(plan),
        tools=tools(),
        decision=Decision.approve(),
        hooks=[ProvenanceSink(tmp_path)],
    )
    list(run)
    reader = TraceReader(tmp_path)
    assert reader.step_prompt(1, 1) == sent_before_pause  # exact: what the model was sent
    assert reader.step_prompt(1, 2)[: len(sent_before_pause)] == sent_before_pause
    assert isinstance(reader.child(1).steps[0].prompt, LazyPrompt)


def test_a_resumed_child_step_whose_next_prompt_was_rewritten_gets_no_guessed_prompt():
    later = [Message("system", "s"), Message("user", "compacted")]
    step = Step(
        number=1,
        tool_call=ToolCall("erase", {}, "c1"),
        llm_call=LLMCall(index=1, prompt_messages=2),
    )
    assert _resumed_prompt(cast(PromptWriter, None), later, step) is None  # no reply at [2]
