"""Listing a real server's tools and registering them: names, schemas, filters, marks, bad input."""

from __future__ import annotations

import os
import sys

import pytest

from looplet_core import BaseToolRegistry, ConfigError, LoopletError
from looplet_core.errors import MCPConnectError, MCPSchemaError
from looplet_core.mcp import (
    MCPConnection,
    MCPTool,
    StdioServer,
    connect_stdio,
    make_tools,
    mcp_origin,
)
from tests.mcp.conftest import demo_server


def test_tools_are_registered_with_the_schema_and_description_the_server_gives(demo):
    listed = {t.name: t for t in demo.list_tools()}
    specs = {s.name: s for s in demo.tools()}
    add = specs["add"]
    assert add.description == "Add two integers."
    assert add.parameters["properties"] == listed["add"].input_schema["properties"]
    assert add.parameters["required"] == ["a", "b"]
    assert add.timeout == 60.0 and not add.requires_approval and not add.read_only
    # Checked like any tool: a model's "2" is coerced to 2, a missing argument refused.
    assert add.validate({"a": 1, "b": "2"}) == ({"a": 1, "b": 2}, None)
    assert "b" in str(add.validate({"a": 1})[1])
    assert add(a=2, b=5) == 7  # a ToolSpec stays callable: this goes to the server
    assert mcp_origin(add) == ("demo", "add")


def test_a_prefix_and_names_providers_refuse_become_valid_tool_names(demo):
    names = [s.name for s in demo.tools(prefix="demo.")]
    assert "demo_add" in names
    assert "demo_files_read-v2" in names  # the server's "files.read-v2"
    spec = next(s for s in demo.tools(prefix="demo.") if s.name == "demo_files_read-v2")
    assert mcp_origin(spec) == ("demo", "files.read-v2")
    assert spec(path="a.txt") == "contents of a.txt"


def test_allow_and_deny_globs_match_the_servers_own_names(demo):
    names = [s.name for s in demo.tools(prefix="d_", allow=["a*", "e*", "l*"], deny=["echo"])]
    assert names == ["d_add", "d_lookup"]
    assert [s.name for s in demo.tools(allow="files.*")] == ["files_read-v2"]


def test_dangerous_tools_require_approval_and_read_only_is_only_what_you_say(demo):
    specs = {
        s.name: s for s in demo.tools(dangerous=["crash", "refuse"], read_only=["add", "lookup"])
    }
    assert {n for n, s in specs.items() if s.requires_approval} == {"crash", "refuse"}
    assert {n for n, s in specs.items() if s.read_only} == {"add", "lookup"}


def test_a_glob_that_is_not_a_string_is_a_config_error(demo):
    with pytest.raises(ConfigError, match="allow takes glob strings"):
        demo.tools(allow=[3])  # type: ignore[list-item]


def test_tools_of_two_servers_sit_in_one_registry_under_prefixes(demo, time_server):
    registry = BaseToolRegistry([*demo.tools(prefix="demo_"), *time_server.tools(prefix="time_")])
    assert {"demo_add", "time_get_current_time", "time_convert_time"} <= set(registry.names())


def test_an_invalid_schema_from_the_server_names_the_tool_and_how_to_leave_it_out():
    with demo_server("--bad-schema") as conn:
        with pytest.raises(MCPSchemaError) as err:
            conn.tools()
        message = str(err.value)
        assert "'broken'" in message and "unknown type 'bogus'" in message
        assert "deny=['broken']" in message
        assert err.value.tool == "broken" and err.value.server == "demo"
        assert "broken" not in [s.name for s in conn.tools(deny=["broken"])]


def test_two_tools_that_would_share_a_name_are_refused(demo):
    schema = {"type": "object", "properties": {}}
    listing = [MCPTool(n, "", schema, {}, "demo") for n in ("files.read", "files_read")]
    with pytest.raises(MCPSchemaError, match=r"'files\.read' and 'files_read' would both"):
        make_tools(demo, listing)
    assert [s.name for s in make_tools(demo, listing, deny=["files_read"])] == ["files_read"]


def test_a_prefix_that_pushes_a_name_past_64_characters_is_refused(demo):
    with pytest.raises(MCPSchemaError, match="must be 1-64 characters; use a shorter prefix"):
        demo.tools(prefix="p" * 62)


def test_a_schema_that_is_not_an_object_or_uses_ctx_is_refused(demo):
    for schema, problem in (
        ({"type": "string"}, "top-level schema must have type 'object'"),
        ([], "inputSchema must be a JSON Schema object"),
        ({"type": "object", "properties": {"ctx": {"type": "string"}}}, "argument named 'ctx'"),
    ):
        with pytest.raises(MCPSchemaError, match=problem):
            make_tools(demo, [MCPTool("odd", "", schema, {}, "demo")])  # type: ignore[arg-type]


def test_a_command_that_does_not_exist_is_named():
    with pytest.raises(MCPConnectError) as err:
        connect_stdio("no-such-mcp-server-xyz", ["--flag"])
    message = str(err.value)
    assert "'no-such-mcp-server-xyz'" in message and "not found on PATH" in message
    assert "Install the server or pass the full path" in message
    assert isinstance(err.value, LoopletError)
    with pytest.raises(MCPConnectError, match="no such executable file"):
        connect_stdio("/no/such/dir/server")


def test_a_server_that_exits_at_once_is_reported_with_the_end_of_its_stderr():
    code = "import sys; print('cannot open config.toml', file=sys.stderr); sys.exit(2)"
    with pytest.raises(MCPConnectError) as err:
        connect_stdio(sys.executable, ["-c", code], name="broken-start")
    message = str(err.value)
    assert "MCP server 'broken-start'" in message and "did not connect" in message
    assert "cannot open config.toml" in message


def test_a_server_that_never_answers_the_handshake_times_out():
    silent = "import time; time.sleep(30)"
    conn = MCPConnection(
        StdioServer(sys.executable, ["-c", silent], name="silent"), connect_timeout=0.5
    )
    with pytest.raises(MCPConnectError, match=r"did not finish the MCP handshake within 0.5 s"):
        conn.start()
    assert not conn.alive


def test_close_stops_the_server_process_and_calls_after_it_say_so():
    conn = demo_server().start()
    assert conn.alive and conn.call("add", {"a": 1, "b": 1}) == 2
    server_pid = conn.call("pid", {})
    os.kill(server_pid, 0)  # running
    conn.close()
    with pytest.raises(ProcessLookupError):  # gone, and reaped: not even a zombie
        os.kill(server_pid, 0)
    conn.close()  # twice is fine
    assert not conn.alive
    with pytest.raises(LoopletError, match="is not connected; call start"):
        conn.call("add", {"a": 1, "b": 1})
