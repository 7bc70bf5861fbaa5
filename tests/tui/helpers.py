"""Helpers for the debugger's tests: a small agent, a loop on a thread, and waiting for it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from looplet_core import (
    BaseToolRegistry,
    DefaultState,
    LoopConfig,
    MockLLMBackend,
    ToolSpec,
    composable_loop,
)
from looplet_tui.live.controller import DebugController


def make_tools(gate: threading.Event | None = None) -> BaseToolRegistry:
    """greet (plain), fail (raises), rm (needs approval), slow (waits on ``gate`` or cancel)."""
    tools = BaseToolRegistry()

    def fail(*, why: str) -> str:
        raise RuntimeError(why)

    def slow(*, seconds: float, ctx: Any) -> str:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not ctx.cancel.cancelled:
            if gate is not None and gate.is_set():
                return "released"
            ctx.cancel.wait(0.01)
        return "cancelled" if ctx.cancel.cancelled else "slept"

    tools.register(
        ToolSpec(
            "greet",
            "Greet someone.",
            {"name": "str"},
            lambda *, name: f"Hello, {name}!",
            read_only=True,
        )
    )
    tools.register(ToolSpec("fail", "Always fails.", {"why": "str"}, fail))
    tools.register(
        ToolSpec(
            "rm",
            "Delete a path.",
            {"path": "str"},
            lambda *, path: f"removed {path}",
            requires_approval=True,
        )
    )
    tools.register(ToolSpec("slow", "Takes a while.", {"seconds": "float"}, slow))
    return tools


def call(tool: str, **args: Any) -> dict[str, Any]:
    return {"tool": tool, "args": args}


GREET3 = [
    call("greet", name="Ada"),
    call("greet", name="Bob"),
    call("greet", name="Cy"),
    call("done", answer="greeted"),
]


@dataclass
class Run:
    """A loop running on a thread with the controller as its last hook."""

    controller: DebugController
    state: DefaultState
    llm: MockLLMBackend
    thread: threading.Thread
    steps: list[Any] = field(default_factory=list[Any])
    error: BaseException | None = None

    def wait(self, predicate: Callable[[], object], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out; controller at {self.controller.pause_point}, "
                    f"state {self.controller.run_state}"
                )
            time.sleep(0.002)

    def wait_paused(self, timeout: float = 5.0) -> Any:
        self.wait(lambda: self.controller.pause_point is not None, timeout)
        return self.controller.pause_point

    def join(self, timeout: float = 5.0) -> None:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the loop thread did not finish"


def start(
    script: Sequence[Any],
    controller: DebugController | None = None,
    *,
    tools: BaseToolRegistry | None = None,
    config: LoopConfig | None = None,
    hooks: Sequence[object] = (),
    delay: float = 0.0,
) -> Run:
    """Run ``script`` on a thread the way the debugger's worker does."""
    ctl = controller or DebugController(poll=0.01)
    state = DefaultState()
    llm = MockLLMBackend(script, report_usage=True, delay=delay)
    cfg = config or LoopConfig(max_steps=20)
    cfg.record_prompts = True
    run = Run(ctl, state, llm, threading.Thread(target=lambda: None))

    def body() -> None:
        try:
            for step in composable_loop(
                llm=llm,
                tools=tools or make_tools(),
                task="test",
                config=cfg,
                state=state,
                hooks=[*hooks, ctl],
                cancel=ctl.cancel_token,
            ):
                run.steps.append(step)
                if step.approval is not None and not step.approval.decided:
                    ctl.request_approval(step)
            ctl.finish(state.result)
        except BaseException as exc:  # surfaced by the test, never swallowed
            run.error = exc
            ctl.fail(exc)

    run.thread = threading.Thread(target=body, daemon=True)
    run.thread.start()
    return run


RESEARCH = [call("researcher", task="look around"), call("done", answer="reported")]
"""The run asks its researcher (see ``research_tools``), then answers."""


def research_tools(
    backend: Callable[[str, list[dict[str, Any]]], MockLLMBackend] | None = None,
) -> BaseToolRegistry:
    """The usual tools plus ``researcher``, a sub-agent that greets Eve, asks its own sub-agent
    ``helper`` (which greets Dee), then answers: two levels of sub-agents, three steps and two.
    ``backend(agent, script)`` makes each sub-agent's model (default: a plain scripted one)."""
    from looplet_core import subagent

    make = backend or (lambda _agent, script: MockLLMBackend(script))
    helper_tools = BaseToolRegistry()
    helper_tools.register(make_tools().get("greet"))  # type: ignore[arg-type]
    helper = subagent(
        "helper",
        "Greet on request.",
        llm=lambda: make("helper", [call("greet", name="Dee"), call("done", answer="helped")]),
        tools=helper_tools,
    )
    researcher_tools = BaseToolRegistry()
    researcher_tools.register(make_tools().get("greet"))  # type: ignore[arg-type]
    researcher_tools.register(helper)
    script = [
        call("greet", name="Eve"),
        call("helper", task="greet Dee"),
        call("done", answer="found two"),
    ]
    tools = make_tools()
    tools.register(
        subagent(
            "researcher",
            "Research.",
            llm=lambda: make("researcher", script),
            tools=researcher_tools,
        )
    )
    return tools
