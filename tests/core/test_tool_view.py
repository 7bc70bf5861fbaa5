"""``ToolView``: what a tool declares about its arguments, checked when declared, and the guess
for tools that declare nothing (recorded traces, MCP tools)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from looplet_core import BaseToolRegistry, ToolRegistrationError, ToolSpec, ToolView, tool
from looplet_core.examples.coding_agent import Workspace, build_tools
from looplet_core.tools.view import guess_view, language_for_path


def test_a_declared_view_is_kept_on_the_spec_and_never_sent_to_the_model() -> None:
    @tool(view=ToolView.shell("cmd", output="out"))
    def run(cmd: str) -> dict[str, Any]:
        """Run it."""
        return {"out": cmd}

    assert run.view == ToolView("shell", code="cmd", output="out")
    assert "view" not in json.dumps(run.schema())  # the schema the backends send is unchanged
    registry = BaseToolRegistry()

    @registry.tool(view=ToolView.diff("before", "after", path=None))
    def swap(before: str, after: str) -> str:
        """Swap."""
        return after

    got = registry.get("swap")
    assert got is not None and got.view == ToolView("diff", old="before", new="after")
    assert ToolSpec("plain", "No view.", {"x": "str"}, lambda *, x: x).view is None


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: ToolView("html"), "kind 'html' is not one of"),  # pyright: ignore[reportArgumentType]
        (lambda: ToolView("shell"), "needs code="),
        (lambda: ToolView("diff", old="a"), "needs old= and new="),
    ],
)
def test_a_view_that_cannot_work_is_refused_when_declared(make: Any, words: str) -> None:
    with pytest.raises(ToolRegistrationError, match=words):
        make()


def test_a_view_of_the_wrong_type_is_refused_by_the_spec() -> None:
    with pytest.raises(ToolRegistrationError, match="view must be a ToolView"):
        ToolSpec("t", "T.", {}, lambda: 1, view="shell")  # pyright: ignore[reportArgumentType]


@pytest.mark.parametrize(
    ("tool_name", "args", "expected"),
    [
        ("bash", {"command": "ls"}, ToolView("shell", code="command")),
        ("run", {"cmd": "ls", "timeout": 3}, ToolView("shell", code="cmd")),
        ("sh", {"line": "ls -l"}, ToolView("shell", code="line")),
        ("write", {"path": "a.py", "content": "x"}, ToolView("code", code="content", path="path")),
        (
            "edit",
            {"path": "a", "old": "x", "new": "y"},
            ToolView("diff", old="old", new="new", path="path"),
        ),
        (
            "str_replace",
            {"file_path": "a", "old_string": "x", "new_string": "y"},
            ToolView("diff", old="old_string", new="new_string", path="file_path"),
        ),
        ("apply", {"patch": "--- a\n+++ b\n"}, ToolView("patch", code="patch")),
        ("search", {"query": "cats"}, ToolView()),
        ("write", {"path": 3, "content": "x"}, ToolView()),  # no string path: not a file write
        ("mcp__fs__read", {"path": "a"}, ToolView()),
    ],
)
def test_the_guess_reads_the_arguments(
    tool_name: str, args: dict[str, Any], expected: ToolView
) -> None:
    assert guess_view(tool_name, args) == expected


def test_the_coding_agent_declares_its_shell_and_the_guess_covers_the_rest(tmp_path: Any) -> None:
    tools = build_tools(Workspace(tmp_path))
    bash = tools.get("bash")
    assert bash is not None and bash.view == ToolView.shell("command", output="output")
    assert guess_view("edit", {"path": "f.py", "old": "a", "new": "b"}).kind == "diff"


@pytest.mark.parametrize(
    ("path", "language"),
    [
        ("fizzbuzz.py", "python"),
        ("src/App.TSX", "tsx"),
        ("Makefile", "make"),
        ("notes", "text"),
        ("a.unknownext", "text"),
        (None, "text"),
        ("C:\\work\\x.rs", "rust"),
    ],
)
def test_the_language_comes_from_the_file_name(path: str | None, language: str) -> None:
    assert language_for_path(path) == language
