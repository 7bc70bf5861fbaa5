"""The coding-agent example: tools confined to the workspace, bash bounded in time and output."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from looplet_core import ErrorKind, ToolCall, TraceReader
from looplet_core.examples.coding_agent import Workspace, build_tools, main, run_bash


@pytest.fixture
def setup(tmp_path):
    root = tmp_path / "ws"
    root.mkdir()
    outside = tmp_path / "secret.txt"
    outside.write_text("top secret")
    (root / "notes.txt").write_text("alpha\nbeta\ngamma\n")
    (root / "link_out").symlink_to(outside)
    (root / "dir_out").symlink_to(tmp_path, target_is_directory=True)
    return Workspace(root), build_tools(Workspace(root), bash_timeout=0.5, output_cap=1000)


def call(tools, name, **args):
    return tools.dispatch(ToolCall(name, args, "c1"))


@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("read", {"path": "../secret.txt"}),
        ("read", {"path": "sub/../../secret.txt"}),
        ("read", {"path": "link_out"}),
        ("read", {"path": "dir_out/secret.txt"}),
        ("write", {"path": "../evil.txt", "content": "x"}),
        ("write", {"path": "/tmp/looplet-evil.txt", "content": "x"}),
        ("edit", {"path": "link_out", "old": "top", "new": "bottom"}),
        ("grep", {"pattern": "secret", "path": ".."}),
        ("glob", {"pattern": "../*"}),
        ("glob", {"pattern": "/etc/*"}),
    ],
)
def test_paths_that_resolve_outside_the_workspace_are_refused(setup, tool, args):
    ws, tools = setup
    result = call(tools, tool, **args)
    assert result.error_kind is ErrorKind.EXECUTION
    assert "outside the workspace" in (result.error or "")
    assert (ws.root.parent / "secret.txt").read_text() == "top secret"
    assert not (ws.root.parent / "evil.txt").exists()
    assert not Path("/tmp/looplet-evil.txt").exists()


def test_absolute_paths_inside_the_workspace_are_fine(setup):
    ws, tools = setup
    assert call(tools, "read", path=str(ws.root / "notes.txt")).data == "alpha\nbeta\ngamma"


def test_search_tools_do_not_follow_links_out_of_the_workspace(setup):
    _, tools = setup
    assert call(tools, "grep", pattern="secret").data == []
    listed = call(tools, "glob", pattern="*").data
    assert "notes.txt" in listed and "link_out" not in listed and "dir_out" not in listed


def test_file_tools_write_read_edit_and_search(setup):
    _, tools = setup
    assert call(tools, "write", path="pkg/a.py", content="x = 1\nx = 1\n").ok
    refused = call(tools, "edit", path="pkg/a.py", old="x = 1", new="x = 2")
    assert "occurs 2 times" in (refused.error or "")
    assert call(tools, "edit", path="pkg/a.py", old="x = 1", new="x = 2", replace_all=True).ok
    assert call(tools, "read", path="pkg/a.py", offset=2, limit=1).data == "x = 2"
    assert call(tools, "grep", pattern=r"x = \d", include="*.py").data == [
        "pkg/a.py:1: x = 2",
        "pkg/a.py:2: x = 2",
    ]
    assert call(tools, "glob", pattern="**/*.py").data == ["pkg/a.py"]


def test_bash_timeout_kills_the_command_and_its_children(setup):
    _, tools = setup
    started = time.monotonic()
    result = call(tools, "bash", command="sleep 30 & sleep 30; echo never")
    assert time.monotonic() - started < 5
    assert result.data["timed_out"] is True and result.data["exit_code"] is None
    assert "never" not in result.data["output"]
    assert "ran past 0.5s" in result.data["output"]


def test_bash_output_is_capped(setup):
    _, tools = setup
    result = call(tools, "bash", command="yes looplet | head -c 200000; echo; echo tail")
    assert result.data["truncated"] is True and result.data["exit_code"] == 0
    assert len(result.data["output"]) < 1200
    assert "more bytes]" in result.data["output"]


def test_bash_runs_in_the_workspace_without_secret_environment(setup, monkeypatch):
    ws, _ = setup
    monkeypatch.setenv("MY_API_KEY", "should-not-leak-123")
    result = run_bash('pwd; echo "key=$MY_API_KEY"', ws.root, timeout=5, cap=1000)
    assert result["output"].splitlines() == [str(ws.root), "key="]


def test_scripted_run_writes_fizzbuzz_and_a_trace(tmp_path, monkeypatch, capsys):
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_MODEL"):
        monkeypatch.delenv(name, raising=False)
    code = main(
        [
            "implement fizzbuzz",
            "--workspace",
            str(tmp_path / "ws"),
            "--trace",
            str(tmp_path / "traces"),
        ]
    )
    assert code == 0
    assert "def fizzbuzz" in (tmp_path / "ws" / "fizzbuzz.py").read_text()
    (trace,) = (tmp_path / "traces").iterdir()
    reader = TraceReader(trace)
    assert [e.tool for e in reader.entries] == ["glob", "write", "bash", "edit", "grep", "done"]
    bash = reader.step(3).tool_result.data
    assert bash["exit_code"] == 0 and "FizzBuzz" in bash["output"]
    assert f"python -m looplet_core show {trace}" in capsys.readouterr().out


def test_the_scripted_model_says_when_it_was_given_a_task_it_does_not_know(
    tmp_path, monkeypatch, capsys
):
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_MODEL"):
        monkeypatch.delenv(name, raising=False)
    assert main(["write a hello world script", "--workspace", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert "the scripted model knows one task, 'implement fizzbuzz'" in out
    assert "'write a hello world script' to a real model" in out
    assert main(["Implement  FizzBuzz", "--workspace", str(tmp_path / "b")]) == 0
    assert "note:" not in capsys.readouterr().out
