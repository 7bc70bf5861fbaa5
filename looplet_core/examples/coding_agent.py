"""A small coding agent: bash, read, write, edit, grep, glob and done, confined to a workspace.

    python -m looplet_core.examples.coding_agent "implement fizzbuzz"
    python -m looplet_core.examples.coding_agent "implement fizzbuzz" --trace ./traces/
    python -m looplet_core.examples.coding_agent "add tests" --workspace ./sandbox

Uses a real OpenAI-compatible endpoint when ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` /
``OPENAI_MODEL`` are set, otherwise a scripted model that writes and runs a fizzbuzz (whatever the
task says), so it runs anywhere.  ``--trace DIR`` writes a provenance trace to ``DIR/<run id>``;
look at it with ``python -m looplet_core show DIR/<run id>``.

**Confinement.**  The file tools resolve every path (symlinks and ``..`` included) and refuse any
that lands outside the workspace.  ``bash`` runs with the workspace as its working directory,
without secret-named environment variables, under a timeout that kills its whole process group,
with output capped; but a shell can still read any file the user can.  It is a convenience, not a
sandbox: run untrusted models in a container or a VM.  POSIX only (process groups).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import IO, Any

from looplet_core import (
    BaseToolRegistry,
    DefaultState,
    LoopConfig,
    MockLLMBackend,
    ToolView,
    composable_loop,
    tool,
)
from looplet_core.examples._backend import pick_backend
from looplet_core.provenance.redact import is_secret_env_name
from looplet_core.provenance.sink import ProvenanceSink

__all__ = ["Workspace", "WorkspaceError", "build_tools", "main", "run_bash"]

_MAX_MATCHES = 200
_MAX_FILES = 500
_READ_LIMIT = 100_000


class WorkspaceError(PermissionError):
    """A path that resolves outside the workspace; the model is told so and may try again."""


class Workspace:
    """The directory the agent may touch; ``resolve`` is the only way tools turn text into paths."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def resolve(self, path: str) -> Path:
        """``path`` (relative to the workspace, or absolute) resolved; outside is refused."""
        given = Path(path).expanduser()
        full = (given if given.is_absolute() else self.root / given).resolve()
        if not full.is_relative_to(self.root):
            raise WorkspaceError(
                f"{path!r} is outside the workspace ({self.root}); use paths inside it"
            )
        return full

    def relative(self, path: Path) -> str:
        return str(path.relative_to(self.root)) or "."


def _pump(stream: IO[bytes], cap: int, out: list[bytes], dropped: list[int]) -> None:
    """Keep the first ``cap`` bytes, count and discard the rest (so the child never blocks)."""
    kept = 0
    while chunk := stream.read(65536):
        room = cap - kept
        if room > 0:
            out.append(chunk[:room])
            kept += min(room, len(chunk))
        dropped[0] += max(0, len(chunk) - max(room, 0))


def run_bash(command: str, cwd: Path, *, timeout: float, cap: int) -> dict[str, Any]:
    """Run ``command`` with bash in ``cwd``: exit code, combined output (first ``cap`` bytes),
    whether output was cut, and whether the timeout killed it."""
    env = {k: v for k, v in os.environ.items() if not is_secret_env_name(k)}
    chunks: list[bytes] = []
    dropped = [0]
    timed_out = False
    code: int | None = None
    with subprocess.Popen(
        ["bash", "-c", command],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    ) as proc:
        assert proc.stdout is not None
        reader = threading.Thread(
            target=_pump, args=(proc.stdout, cap, chunks, dropped), daemon=True
        )
        reader.start()
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            with contextlib.suppress(ProcessLookupError):  # the whole group: background jobs too
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        reader.join(timeout=1.0)
    output = b"".join(chunks).decode("utf-8", errors="replace")
    if dropped[0]:
        output += f"\n…[output cut: {dropped[0]} more bytes]"
    if timed_out:
        output += f"\n[killed: the command ran past {timeout:g}s]"
    return {
        "exit_code": code,
        "output": output,
        "truncated": bool(dropped[0]),
        "timed_out": timed_out,
    }


def build_tools(
    workspace: Workspace, *, bash_timeout: float = 30.0, output_cap: int = 20_000
) -> BaseToolRegistry:
    """The seven tools, each bound to ``workspace``."""
    ws = workspace

    @tool(view=ToolView.shell("command", output="output"))
    def bash(command: str) -> dict[str, Any]:
        """Run a shell command in the workspace; returns exit code and output.

        Args:
            command: the bash command line to run.
        """
        return run_bash(command, ws.root, timeout=bash_timeout, cap=output_cap)

    @tool(read_only=True)
    def read(path: str, offset: int = 1, limit: int = 400) -> str:
        """Read a text file, from line ``offset`` (1-based), at most ``limit`` lines.

        Args:
            path: file path relative to the workspace.
            offset: first line to return.
            limit: most lines to return.
        """
        lines = ws.resolve(path).read_text(encoding="utf-8", errors="replace").splitlines()
        start = max(offset, 1) - 1
        text = "\n".join(lines[start : start + max(limit, 1)])
        return text[:_READ_LIMIT]

    @tool
    def write(path: str, content: str) -> dict[str, Any]:
        """Create or overwrite a file with ``content`` (parent folders are created).

        Args:
            path: file path relative to the workspace.
            content: the whole new text of the file.
        """
        target = ws.resolve(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
        return {"path": ws.relative(target), "bytes": len(content.encode())}

    @tool
    def edit(path: str, old: str, new: str, replace_all: bool = False) -> dict[str, Any]:
        """Replace exact text in a file; ``old`` must occur exactly once unless ``replace_all``.

        Args:
            path: file path relative to the workspace.
            old: the exact text to replace.
            new: the text to put in its place.
            replace_all: replace every occurrence instead of requiring exactly one.
        """
        target = ws.resolve(path)
        text = target.read_text(encoding="utf-8")
        found = text.count(old) if old else 0
        if found == 0:
            raise ValueError(f"the text to replace was not found in {path}")
        if found > 1 and not replace_all:
            raise ValueError(
                f"the text occurs {found} times in {path}; give more context or set replace_all"
            )
        target.write_text(text.replace(old, new), encoding="utf-8")
        return {"path": ws.relative(target), "replaced": found if replace_all else 1}

    @tool(read_only=True)
    def grep(pattern: str, path: str = ".", include: str = "*") -> list[str]:
        """Search files for a regular expression; returns ``file:line: text`` matches.

        Args:
            pattern: a Python regular expression.
            path: a file or folder in the workspace to search.
            include: only files whose name matches this glob (e.g. ``*.py``).
        """
        regex = re.compile(pattern)
        base = ws.resolve(path)
        files = [base] if base.is_file() else sorted(p for p in base.rglob(include) if p.is_file())
        matches: list[str] = []
        for file in files:
            try:
                ws.resolve(str(file))
            except WorkspaceError:  # a symlink out of the workspace: not searched
                continue
            try:
                lines = file.read_text(encoding="utf-8").splitlines()
            except (UnicodeDecodeError, OSError):
                continue  # binary or unreadable: skip, as grep does
            for number, line in enumerate(lines, 1):
                if regex.search(line):
                    matches.append(f"{ws.relative(file)}:{number}: {line[:200]}")
                    if len(matches) >= _MAX_MATCHES:
                        return [*matches, f"…stopped at {_MAX_MATCHES} matches"]
        return matches

    @tool(name="glob", read_only=True)
    def glob_files(pattern: str) -> list[str]:
        """List workspace files matching a glob pattern such as ``**/*.py``.

        Args:
            pattern: a glob relative to the workspace.
        """
        if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
            raise WorkspaceError(f"{pattern!r} reaches outside the workspace; use a relative glob")
        found: list[str] = []
        for path in sorted(ws.root.glob(pattern)):
            try:
                found.append(ws.relative(ws.resolve(str(path))))
            except WorkspaceError:
                continue  # a symlink pointing out: not listed
            if len(found) >= _MAX_FILES:
                break
        return found

    @tool
    def done(answer: str) -> dict[str, str]:
        """Finish: summarise what you did and how you checked it.

        Args:
            answer: the summary.
        """
        return {"answer": answer}

    return BaseToolRegistry([bash, read, write, edit, grep, glob_files, done])


FIZZBUZZ = """def fizzbuzz(n):
    out = []
    for i in range(1, n + 1):
        word = ("Fizz" if i % 3 == 0 else "") + ("Buzz" if i % 5 == 0 else "")
        out.append(word or str(i))
    return out


if __name__ == "__main__":
    import sys
    print("\\n".join(fizzbuzz(int(sys.argv[1]) if len(sys.argv) > 1 else 15)))
"""

SCRIPT: list[Any] = [
    {"tool": "glob", "args": {"pattern": "*"}},
    {"tool": "write", "args": {"path": "fizzbuzz.py", "content": FIZZBUZZ}},
    {"tool": "bash", "args": {"command": "python3 fizzbuzz.py 15"}},
    {
        "tool": "edit",
        "args": {
            "path": "fizzbuzz.py",
            "old": "def fizzbuzz(n):\n",
            "new": 'def fizzbuzz(n):\n    """FizzBuzz for 1..n."""\n',
        },
    },
    {"tool": "grep", "args": {"pattern": "def fizzbuzz", "include": "*.py"}},
    {
        "tool": "done",
        "args": {
            "answer": "Wrote fizzbuzz.py; `python3 fizzbuzz.py 15` prints "
            "1, 2, Fizz, 4, Buzz, ... FizzBuzz."
        },
    },
]

SYSTEM_PROMPT = (
    "You are a careful coding agent working in a workspace folder. Use the tools: glob and grep "
    "to look around, read to view files, write and edit to change them, bash to run commands "
    "(tests, scripts). Paths are relative to the workspace. Check your work by running it, then "
    "call done with a short summary."
)


SCRIPTED_TASK = "implement fizzbuzz"
"""The one task the scripted model knows; it plays the same script whatever it is asked."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m looplet_core.examples.coding_agent")
    parser.add_argument("task", nargs="?", default=SCRIPTED_TASK)
    parser.add_argument("--trace", help="write a provenance trace to DIR/<run id>")
    parser.add_argument("--workspace", help="folder the agent works in (default: a new temp dir)")
    parser.add_argument("--max-steps", type=int, default=30)
    parser.add_argument("--bash-timeout", type=float, default=30.0)
    args = parser.parse_args(argv)
    root = args.workspace or tempfile.mkdtemp(prefix="looplet-workspace-")
    workspace = Workspace(root)
    llm, where = pick_backend(SCRIPT)
    state = DefaultState()
    hooks: list[object] = []
    trace_dir = None
    if args.trace:
        trace_dir = Path(args.trace) / state.run_id
        hooks.append(ProvenanceSink(trace_dir, llm=llm))
    print(f"coding agent on {where}; workspace {workspace.root}")
    if isinstance(llm, MockLLMBackend) and " ".join(args.task.lower().split()) != SCRIPTED_TASK:
        print(
            f"note: the scripted model knows one task, {SCRIPTED_TASK!r}, and plays it whatever "
            f"the task says; set OPENAI_BASE_URL, OPENAI_API_KEY and OPENAI_MODEL to give "
            f"{args.task!r} to a real model"
        )
    config = LoopConfig(
        max_steps=args.max_steps, system_prompt=SYSTEM_PROMPT, workspace=workspace.root
    )
    tools = build_tools(workspace, bash_timeout=args.bash_timeout)
    for step in composable_loop(
        llm=llm, tools=tools, task=args.task, config=config, state=state, hooks=hooks
    ):
        print(step.pretty())
    result = state.result
    assert result is not None
    print(f"stopped: {result.stop_reason.value}; answer: {result.answer_text}")
    if trace_dir is not None:
        print(f"trace: {trace_dir}  (python -m looplet_core show {trace_dir})")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
