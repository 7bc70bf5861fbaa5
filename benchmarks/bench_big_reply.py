"""A 5 MB plain-text reply, re-asked four times: what a very long reply costs a run.

Run it with ``.venv/bin/python benchmarks/bench_big_reply.py`` (``--repeats N``, default 3;
``--mb M``, default 5).  The model answers four times with M MB of plain text and no tool call
(each is a failed step: the loop tells the model to call a tool and asks again), then calls
``done``.  The same run is timed with a 1 KB reply in place of the long one, so the table shows
what the long text itself costs, per re-ask.  Paths measured:

- the in-process scripted model (``MockLLMBackend``): the loop's own handling of the text;
- ``OpenAIBackend`` with the real ``openai`` SDK over HTTP to a scripted server on 127.0.0.1
  (``tests/fakeserver.py``), plain and streamed; the streamed run also with
  ``record_prompts=True`` (what the debugger turns on) and with a ``ProvenanceSink`` on tmpfs.

Issue 16 saw such a run take 10.9 s over 4 re-asks (about 2.7 s each).  The token estimator is
the loop's default one, named in the header: tiktoken when its encoding is on disk (a text past
200,000 characters is counted from three samples, ``TiktokenEstimator.count``), else the
heuristic.  Wall clock, median of the repeats, after a warm-up run; never used as an assert in
tests.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from looplet_core import (  # noqa: E402 - the path above makes the checkout importable
    BaseToolRegistry,
    DefaultState,
    LoopConfig,
    MockLLMBackend,
    ProvenanceSink,
    ToolSpec,
    composable_loop,
)

REASKS = 4
SMALL = 1_000


def registry() -> BaseToolRegistry:
    tools = BaseToolRegistry()
    tools.register(
        ToolSpec(
            name="done",
            description="Finish.",
            parameters={"answer": "str"},
            execute=lambda *, answer: {"answer": answer},
        )
    )
    return tools


def text_of(size: int) -> str:
    """Prose-like text (words and spaces, as a model writes), exactly ``size`` characters."""
    line = "the quick brown fox jumps over the lazy dog. "
    return (line * (size // len(line) + 1))[:size]


def run(
    llm: Any, *, record_prompts: bool = False, stream: bool = False, hooks: tuple = ()
) -> float:
    """Seconds for the whole run; checks it made the steps it should (4 failed, then done)."""
    config = LoopConfig(
        max_steps=REASKS + 1,
        max_parse_retries=REASKS,
        record_prompts=record_prompts,
        stream=stream,
    )
    started = time.perf_counter()
    steps = list(
        composable_loop(
            llm=llm,
            tools=registry(),
            task="Answer, then call done.",
            config=config,
            state=DefaultState(max_steps=REASKS + 1),
            hooks=hooks,
        )
    )
    elapsed = time.perf_counter() - started
    if len(steps) != REASKS + 1 or steps[-1].tool_call is None:
        raise SystemExit(f"the run made {len(steps)} steps, not {REASKS} re-asks and done")
    return elapsed


def scripted(text: str) -> Callable[[], float]:
    def once() -> float:
        script: list[Any] = [text] * REASKS + [{"tool": "done", "args": {"answer": "ok"}}]
        return run(MockLLMBackend(script, record_requests=False))

    return once


def over_http(
    text: str, *, stream: bool, record: bool = False, sink: bool = False
) -> Callable[[], float]:
    import openai

    from looplet_core.backends import OpenAIBackend
    from tests.fakeserver import FakeOpenAIServer

    def once() -> float:
        with FakeOpenAIServer() as server:
            for _ in range(REASKS):
                server.reply(text)
            server.reply(tool_calls=[("done", {"answer": "ok"})])
            client = openai.OpenAI(base_url=server.base_url, api_key="test-key", max_retries=0)
            llm = OpenAIBackend(client, model="fake-model")
            hooks: tuple = ()
            where = tempfile.mkdtemp(dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
            try:
                if sink:
                    hooks = (ProvenanceSink(Path(where) / "trace"),)
                return run(llm, record_prompts=record, stream=stream, hooks=hooks)
            finally:
                shutil.rmtree(where, ignore_errors=True)

    return once


def main() -> None:
    parser = argparse.ArgumentParser(description="A long plain-text reply, re-asked four times.")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--mb", type=float, default=5.0)
    args = parser.parse_args()
    big = text_of(int(args.mb * 1_000_000))
    small = text_of(SMALL)
    paths: list[tuple[str, Callable[[str], Callable[[], float]]]] = [
        ("in-process scripted model", scripted),
        ("openai SDK over HTTP, plain", lambda t: over_http(t, stream=False)),
        ("openai SDK over HTTP, streamed", lambda t: over_http(t, stream=True)),
        ("  + record_prompts", lambda t: over_http(t, stream=True, record=True)),
        (
            "  + record_prompts + ProvenanceSink",
            lambda t: over_http(t, stream=True, record=True, sink=True),
        ),
    ]
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    from looplet_core.context.tokens import default_estimator

    print(
        f"bench_big_reply: {REASKS} plain-text replies of {args.mb:g} MB, then done; "
        f"median of {args.repeats}; token estimator {default_estimator().name}; load {load}"
    )
    print(
        f"{'path':38} {'1 KB replies s':>15} {f'{args.mb:g} MB replies s':>16} {'s per re-ask':>13}"
    )
    for name, make in paths:
        small_once, big_once = make(small), make(big)
        small_once()  # warm-up: imports, the first connection
        small_times, big_times = [], []
        for _ in range(args.repeats):  # interleaved, so load moves both alike
            small_times.append(small_once())
            big_times.append(big_once())
        small_s, big_s = statistics.median(small_times), statistics.median(big_times)
        print(f"{name:38} {small_s:15.3f} {big_s:16.3f} {(big_s - small_s) / REASKS:13.3f}")


if __name__ == "__main__":
    main()
