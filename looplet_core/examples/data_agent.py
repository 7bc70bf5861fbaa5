"""The seed's data-cleanup agent: approval, compaction and checkpoints on a CSV it generates.

    python -m looplet_core.examples.data_agent --clean        # fresh data, new run
    python -m looplet_core.examples.data_agent --resume       # continue the newest run
    python -m looplet_core.examples.data_agent --auto-approve # approve every call

Tools: ``describe_csv``, ``head_csv``, ``groupby_count``, ``delete_rows`` (needs approval) and
``done``, confined to the work directory (``--workdir``, default ``./looplet-data-agent``), which
holds ``orders.csv`` and ``checkpoints/``.  When ``delete_rows`` asks, the call waits at the
terminal; it was checkpointed before you were asked, so answering ``q`` (or Ctrl-C, or closing
the terminal) and later running ``--resume`` puts the same call to you again, without asking the
model.  Uses a real OpenAI-compatible endpoint when ``OPENAI_*`` variables are set, otherwise a
scripted model; for a real model, ``OPENAI_CONTEXT_WINDOW`` (tokens) turns on compaction.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import shutil
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from looplet_core import (
    BaseToolRegistry,
    CheckpointError,
    DefaultState,
    Event,
    EventKind,
    FileCheckpointStore,
    LoopConfig,
    Message,
    Step,
    StepStatus,
    TerminalApprover,
    ThresholdCompactHook,
    auto_approve,
    composable_loop,
    latest_checkpoint,
    resume,
)
from looplet_core.durable.checkpoints import load
from looplet_core.examples._backend import pick_backend, real_backend_configured

__all__ = ["build_tools", "main", "make_csv"]

DATA = "orders.csv"
TASK = (
    f"The file {DATA} holds orders, mixed with test orders that must not be analysed. "
    "Inspect it, delete the test orders, check the result, then call done with a short report."
)


def scripted_reply(messages: Sequence[Message], tools: object) -> dict[str, Any]:
    """The scripted model: its next call follows from the last tool result it was sent, so it
    behaves the same after compaction removed old turns, and in a resumed run."""
    last = next((m for m in reversed(messages) if m.role == "tool"), None)
    call: dict[str, Any] = {"id": f"call_{len(messages)}"}
    data = {"path": DATA}
    if last is None:
        return call | {"tool": "describe_csv", "args": data}
    if last.name == "describe_csv":
        return call | {"tool": "head_csv", "args": data | {"n": 5}}
    if last.name == "head_csv" or (last.name == "delete_rows" and "deleted" in last.content):
        return call | {"tool": "groupby_count", "args": data | {"column": "status"}}
    if last.name == "groupby_count" and '"test"' in last.content:
        args = data | {"column": "status", "value": "test"}
        return call | {"tool": "delete_rows", "args": args}
    answer = (
        "The test orders are deleted; the rest are paid or refunded."
        if last.name == "groupby_count"
        else "I was not allowed to delete the test orders; they are still in the file."
    )
    return call | {"tool": "done", "args": {"answer": answer}}


def make_csv(path: Path, rows: int = 40) -> None:
    rng = random.Random(7)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["order_id", "customer", "region", "status", "amount"])
        for i in range(1, rows + 1):
            status = "test" if i % 7 == 0 else rng.choice(["paid", "paid", "refunded"])
            customer = "QA bot" if status == "test" else rng.choice(["Ana", "Bo", "Chen", "Dee"])
            region = rng.choice(["north", "south", "east"])
            writer.writerow([i, customer, region, status, f"{rng.uniform(5, 500):.2f}"])


def build_tools(workdir: Path) -> BaseToolRegistry:
    """The agent's tools, confined to ``workdir``; only ``delete_rows`` changes anything."""
    root = workdir.resolve()
    tools = BaseToolRegistry()

    def rows_of(path: str) -> tuple[Path, list[dict[str, str]]]:
        full = (root / path).resolve()
        if not full.is_relative_to(root):
            raise PermissionError(f"{path!r} is outside the work directory")
        with full.open(newline="") as f:
            return full, list(csv.DictReader(f))

    @tools.tool(read_only=True)
    def describe_csv(path: str) -> dict[str, Any]:
        """Row count, column names and empty cells per column of a CSV file."""
        _, rows = rows_of(path)
        columns = list(rows[0]) if rows else []
        empty = {c: sum(1 for r in rows if not r[c]) for c in columns}
        return {"rows": len(rows), "columns": columns, "empty_cells": empty}

    @tools.tool(read_only=True)
    def head_csv(path: str, n: int = 5) -> list[dict[str, str]]:
        """The first n rows of a CSV file."""
        return rows_of(path)[1][: max(0, n)]

    @tools.tool(read_only=True)
    def groupby_count(path: str, column: str) -> dict[str, int]:
        """How many rows hold each value of a column."""
        return dict(Counter(r.get(column, "") for r in rows_of(path)[1]))

    @tools.tool(requires_approval=True)
    def delete_rows(path: str, column: str, value: str) -> dict[str, int]:
        """Delete the rows whose column equals value (asks a person first)."""
        full, rows = rows_of(path)
        keep = [r for r in rows if r.get(column) != value]
        tmp = full.with_suffix(".tmp")
        with tmp.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else [])
            writer.writeheader()
            writer.writerows(keep)
        os.replace(tmp, full)
        return {"deleted": len(rows) - len(keep), "remaining": len(keep)}

    @tools.tool
    def done(answer: str) -> str:
        """Finish with a short report."""
        return answer

    return tools


class _ShowCompaction:
    """Print a line when compaction rewrites the history (an observer: it decides nothing)."""

    def on_event(self, event: Event) -> None:
        data = event.data
        if event.kind is EventKind.COMPACTION and data.get("tokens_after") != data.get(
            "tokens_before"
        ):
            print(f"   (compacted the history: {data.get('tokens_before')} -> "
                  f"{data.get('tokens_after')} tokens, {data.get('strategy')})")  # fmt: skip


def _drive(loop: Any, approve_at_terminal: bool) -> None:
    """Print each step; put a paused call to the person at the terminal."""
    ask = TerminalApprover()
    step: Step
    for step in loop:
        print(step.pretty())
        if step.status is StepStatus.AWAITING_APPROVAL and step.approval is not None:
            if approve_at_terminal:
                ask(step.approval)
            if not step.approval.decided:
                print("Paused. Run again with --resume to decide.")
                loop.close()
                return


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m looplet_core.examples.data_agent")
    parser.add_argument("--clean", action="store_true", help="regenerate the data, start over")
    parser.add_argument("--resume", action="store_true", help="continue the newest run")
    parser.add_argument("--auto-approve", action="store_true", help="approve every call")
    parser.add_argument("--workdir", type=Path, default=Path("looplet-data-agent"))
    args = parser.parse_args(argv)
    workdir: Path = args.workdir
    if args.clean and args.resume:
        parser.error("--clean and --resume contradict each other")
    if args.clean:
        shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True, exist_ok=True)
    if not (workdir / DATA).exists():
        make_csv(workdir / DATA)
    store = FileCheckpointStore(workdir / "checkpoints")
    llm, where = pick_backend([scripted_reply] * 50)
    tools = build_tools(workdir)
    approver = auto_approve if args.auto_approve else None
    # The scripted model's prompts are tiny: a tiny window makes its compaction visible.  A real
    # model's window is unknown unless the environment says it; without one, no compaction.
    window: int | None = 300
    if real_backend_configured():
        given = os.environ.get("OPENAI_CONTEXT_WINDOW", "")
        window = int(given) if given.isdigit() else None
    hooks: list[object] = [_ShowCompaction()]
    if window is not None:
        hooks.insert(0, ThresholdCompactHook())
    print(f"looplet data_agent on {where}; data and checkpoints in {workdir}/")
    if args.resume:
        try:
            run = resume(store, llm=llm, tools=tools, hooks=hooks, approver=approver)
        except CheckpointError as exc:
            print(f"cannot resume: {exc}", file=sys.stderr)
            return 1
        if run.finished and run.result is not None:
            print(f"run {run.state.run_id} already finished ({run.result.stop_reason.value}): "
                  f"{run.result.answer_text}")  # fmt: skip
            return 0
        print(f"resuming run {run.state.run_id} after step {run.state.step_number}")
        state = run.state
        _drive(run, approver is None)
    else:
        if store.runs():
            newest = load(store, latest_checkpoint(store)).state
            if not newest.finished:
                print(f"run {newest.run_id} is unfinished: use --resume to continue it, or "
                      "--clean to start over", file=sys.stderr)  # fmt: skip
                return 2
        state = DefaultState()
        config = LoopConfig(max_steps=12, checkpoint=store, approver=approver,
                            context_window=window)  # fmt: skip
        _drive(composable_loop(llm=llm, tools=tools, task=TASK, config=config, state=state,
                               hooks=hooks), approver is None)  # fmt: skip
    result = state.result
    if result is not None and state.finished:
        print(f"stopped: {result.stop_reason.value}; answer: {result.answer_text}")
    print(f"{DATA}: {sum(1 for _ in (workdir / DATA).open()) - 1} rows")
    return 0 if result is None or result.ok or not state.finished else 1


if __name__ == "__main__":
    sys.exit(main())
