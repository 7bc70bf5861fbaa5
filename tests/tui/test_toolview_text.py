"""The renderables behind the readable views, read as text: values, folds, diffs, limits."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console, RenderableType

from looplet_core import ToolView
from looplet_tui.text.toolview import (
    call_renderable,
    diff_lines,
    filled_in,
    result_value_renderable,
    view_for,
)
from looplet_tui.text.values import UNFOLDED_LINES, fold_lines, is_inline, value_renderable


def text_of(renderable: RenderableType, width: int = 100) -> str:
    console = Console(width=width, file=io.StringIO(), color_system=None, record=True)
    console.print(renderable)
    return console.export_text()


def test_short_scalars_sit_after_their_key_and_multi_line_strings_are_blocks() -> None:
    text = text_of(value_renderable({"n": 3, "ok": True, "none": None, "log": "a\nb\nc"}))
    lines = text.splitlines()
    assert lines[:3] == ["n     3", "ok    true", "none  null"]
    assert lines[3].startswith("log  3 lines, 5 chars")
    assert [line.strip() for line in lines[4:7]] == ["a", "b", "c"]
    assert "\\n" not in text


def test_nested_values_are_indented_and_lists_are_dashed() -> None:
    text = text_of(value_renderable({"rows": [{"id": 1, "note": "x\ny"}, 2, "three"]}))
    assert "rows  3 items" in text
    assert "- [0]" in text and "- 2" in text and "- three" in text
    assert "    note  2 lines" in text


def test_inline_is_decided_without_dumping_a_huge_value() -> None:
    assert is_inline({"a": 1, "b": [1, 2]})
    assert not is_inline("x" * 81)
    assert not is_inline({"k": "one\ntwo"})
    assert not is_inline({"big": "z" * 10_000_000})  # stops counting at 80
    deep: Any = "leaf"
    for _ in range(5000):
        deep = {"k": deep}
    assert not is_inline(deep)
    assert "nested deeper than 40 levels" in text_of(value_renderable(deep), width=200)


def test_folding_keeps_three_quarters_and_says_what_it_hid() -> None:
    text = "\n".join(f"line {n}" for n in range(1, 101))
    shown, note = fold_lines(text, 40)
    assert shown.splitlines()[-1] == "line 30"
    assert note == f"… 70 more lines, {len(text) - len(shown):,} more chars (f unfolds)"
    assert fold_lines("a\nb\nc", 40) == ("a\nb\nc", "")
    huge = "\n".join("x" for _ in range(UNFOLDED_LINES + 500))
    shown, note = fold_lines(huge, None)
    assert len(shown.splitlines()) == UNFOLDED_LINES and "500 more lines not drawn" in note
    shown, note = fold_lines("q" * 1_000_000, 40)  # one line, but a megabyte of it
    assert len(shown) == 30 * 120 and "more chars (f unfolds)" in note


def test_an_edit_diff_has_hunks_and_a_huge_unrelated_one_is_drawn_as_replaced() -> None:
    lines = diff_lines("a\nb\nc\n", "a\nB\nc\n", "f.py")
    assert lines == ["--- a/f.py", "+++ b/f.py", "@@ -1,3 +1,3 @@", " a", "-b", "+B", " c"]
    assert diff_lines("same", "same") == ["(no change to text)"]
    old = "\n".join(f"old {n}" for n in range(6000))
    new = "\n".join(f"new {n}" for n in range(6000))
    blunt = diff_lines("head\n" + old, "head\n" + new, "big.txt")
    assert "shown as replaced" in blunt[2] and blunt[2].startswith("@@ -1,6001 +1,6001 @@")
    assert blunt[3] == " head" and blunt[4] == "-old 0" and blunt[6004] == "+new 0"


def test_a_declared_view_wins_when_it_fits_and_the_guess_serves_when_it_does_not() -> None:
    views = {"sh": ToolView.shell("line")}
    assert view_for("sh", {"line": "ls"}, views).kind == "shell"
    assert view_for("sh", {"line": 3}, views) == ToolView()  # not a string: generic
    assert view_for("other", {"command": "ls"}, views).kind == "shell"  # the guess


def test_a_code_view_past_the_highlight_limit_is_plain_and_says_so() -> None:
    code = f"value = '{'a' * 30}'\n" * 1000  # 41,000 chars
    text = text_of(call_renderable("write", {"path": "big.py", "content": code}, fold=None))
    assert "plain: over 16,000 chars" in text
    assert "big.py  python · 1,000 lines · 41,000 chars" in text
    assert "plain" not in text_of(call_renderable("write", {"path": "a.py", "content": code[:900]}))


def test_a_declared_output_comes_first_and_other_results_are_laid_out() -> None:
    views = {"sh": ToolView.shell("line", output="stdout")}
    text = text_of(result_value_renderable("sh", '{"stdout": "one\\ntwo", "code": 0}', views))
    assert text.splitlines()[:4] == ["code  0", "", "stdout", "one"]
    assert text_of(result_value_renderable(None, "plain words")).strip() == "plain words"
    assert text_of(result_value_renderable(None, "{not json")).strip() == "{not json"


def test_defaults_filled_in_are_told_apart_from_a_rewrite() -> None:
    assert filled_in({"a": 1}, {"a": 1, "b": False}) == ("b",)
    assert filled_in({"a": 1}, {"a": 2}) is None
    assert filled_in({"a": 1, "c": 3}, {"a": 1}) is None
    assert filled_in({"a": 1}, {"a": 1}) == ()
