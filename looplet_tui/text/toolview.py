"""A tool call and its result drawn the way a person reads them, following the tool's ``ToolView``.

``call_renderable`` shows a shell command as ``$ command`` highlighted as bash, a file write as the
file's code highlighted by its extension, an edit as a unified diff, a patch coloured by line, and
any other call as its arguments by name (``values``).  ``result_value_renderable`` shows a result
the same way: JSON text parsed and laid out, a shell tool's output as a block.  Every string is
cleaned first (``safe.clean``), so what a model or a tool wrote is drawn literally.

The view comes from the tool (``ToolSpec.view``, passed in as ``views``) or, for tools the viewer
does not know (a recorded trace, an MCP server), from ``looplet_core.tools.view.guess_view``.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from looplet_core.tools.view import ToolView, guess_view, language_for_path
from looplet_tui.text.safe import clean
from looplet_tui.text.values import (
    BLOCK_FOLD,
    UNFOLDED_LINES,
    code_block,
    fold_keep,
    fold_lines,
    value_renderable,
)

__all__ = [
    "DIFF_CONTEXT",
    "Views",
    "call_renderable",
    "diff_lines",
    "diff_text",
    "filled_in",
    "parse_result",
    "result_value_renderable",
    "view_for",
]

Views = Mapping[str, ToolView]
"""The views the tools declared, by tool name (``ToolSpec.view``)."""
DIFF_CONTEXT = 3
"""Unchanged lines shown around each change of an edit's diff."""
_FULL_MATCH_LIMIT = 25_000_000
"""Above this many line pairs (old lines x new lines, after the common head and tail are cut),
an edit is drawn as all old lines removed then all new added: difflib's matching costs about
lines x changes, so two 10,000-line texts with a change every 100 lines take most of a second,
and the viewer must not stall.  5,000 x 5,000 lines are still matched line by line."""


def view_for(tool: str, args: Mapping[str, Any], views: Views | None = None) -> ToolView:
    """The tool's declared view when it fits these arguments, else the guess from them."""
    declared = (views or {}).get(tool)
    if declared is not None and _fits(declared, args):
        return declared
    return guess_view(tool, args)


def _fits(view: ToolView, args: Mapping[str, Any]) -> bool:
    if view.kind == "diff":
        return isinstance(args.get(view.old or ""), str) and isinstance(
            args.get(view.new or ""), str
        )
    if view.kind in ("shell", "code", "patch"):
        return isinstance(args.get(view.code or ""), str)
    return True


def filled_in(original: Mapping[str, Any], args: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The arguments validation added to the model's ``original`` ones (defaults), or None when
    a hook changed or removed one of the model's own (a real rewrite, worth showing both)."""
    if any(k not in args or args[k] != v for k, v in original.items()):
        return None
    return tuple(k for k in args if k not in original)


def _count_lines(text: str) -> int:
    return text.count("\n") + (0 if text.endswith("\n") or not text else 1)


def call_renderable(
    tool: str,
    args: Mapping[str, Any],
    views: Views | None = None,
    *,
    fold: int | None = BLOCK_FOLD,
) -> RenderableType:
    """The call's arguments for reading, per the tool's view (see the module docstring)."""
    view = view_for(tool, args, views)
    parts: list[RenderableType] = []
    if view.kind == "shell":
        command = str(args[view.code or ""])
        line = Table.grid()
        line.add_column(width=2, style="bold")
        line.add_column(ratio=1)
        line.add_row("$", code_block(command, "bash", fold=fold, line_numbers=False))
        parts.append(line)
    elif view.kind == "code":
        text = str(args[view.code or ""])
        path = args.get(view.path or "")
        language = view.language or language_for_path(path if isinstance(path, str) else None)
        head = Text()
        if isinstance(path, str):
            head.append(clean(path), style="bold")
            head.append("  ")
        head.append(f"{language} · {_count_lines(text):,} lines · {len(text):,} chars", "dim")
        parts += [head, code_block(text, language, fold=fold)]
    elif view.kind == "diff":
        path = args.get(view.path or "")
        name = path if isinstance(path, str) else ""
        old, new = str(args[view.old or ""]), str(args[view.new or ""])
        parts.append(diff_text(diff_lines(old, new, name), fold=fold))
    elif view.kind == "patch":
        parts.append(diff_text(str(args[view.code or ""]).split("\n"), fold=fold))
    rest = {k: v for k, v in args.items() if k not in view.named()}
    if view.kind == "generic" or rest:
        if parts:
            parts.append(Text(""))
        parts.append(value_renderable(rest if view.kind != "generic" else args, fold=fold))
    return Group(*parts)


# -- diffs ----------------------------------------------------------------------------------------


@lru_cache(maxsize=16)
def _cached_diff(old: str, new: str, path: str) -> tuple[str, ...]:
    return tuple(_diff(old, new, path))


def diff_lines(old: str, new: str, path: str = "") -> list[str]:
    """A unified diff turning ``old`` into ``new`` (``path`` names both sides), as lines.

    The last few are kept: folding, unfolding or showing the step again does not diff again."""
    return list(_cached_diff(old, new, path))


def _diff(old: str, new: str, path: str) -> list[str]:
    a, b = old.splitlines(), new.splitlines()
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < min(len(a), len(b)) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    name = path or "text"
    if (len(a) - head - tail) * (len(b) - head - tail) <= _FULL_MATCH_LIMIT:
        lines = list(
            difflib.unified_diff(a, b, f"a/{name}", f"b/{name}", n=DIFF_CONTEXT, lineterm="")
        )
        return lines or [f"(no change to {name})"]
    return list(_blunt_diff(a, b, head, tail, name))


def _blunt_diff(a: list[str], b: list[str], head: int, tail: int, name: str) -> Iterator[str]:
    """One hunk: the differing middle of ``a`` removed, that of ``b`` added, with context."""
    start = max(0, head - DIFF_CONTEXT)
    a_end, b_end = len(a) - tail, len(b) - tail
    after = min(tail, DIFF_CONTEXT)
    yield f"--- a/{name}"
    yield f"+++ b/{name}"
    yield (
        f"@@ -{start + 1},{a_end - start + after} +{start + 1},{b_end - start + after} @@"
        " (too large to match line by line: shown as replaced)"
    )
    yield from (" " + line for line in a[start:head])
    yield from ("-" + line for line in a[head:a_end])
    yield from ("+" + line for line in b[head:b_end])
    yield from (" " + line for line in a[a_end : a_end + after])


_LINE_CHARS = 120
"""A folded diff stops at ``fold`` lines' worth of this many characters (long lines count more)."""
_LINE_CUT = 20 * _LINE_CHARS
"""Characters of one diff line drawn; the rest is counted (each side of a one-line edit shows)."""
_DIFF_STYLES = (("+++", "bold"), ("---", "bold"), ("@@", "cyan"), ("+", "green"), ("-", "red"))


def diff_text(lines: list[str], *, fold: int | None = BLOCK_FOLD) -> Text:
    """Diff lines coloured by their first character; folded past ``fold`` lines."""
    total = len(lines)
    shown_lines = lines
    note = ""
    if fold is not None and total > fold:
        keep = fold_keep(fold)
        shown_lines = lines[:keep]
        note = f"… {total - keep:,} more diff lines (f unfolds)"
    elif fold is None and total > UNFOLDED_LINES:
        shown_lines = lines[:UNFOLDED_LINES]
        note = f"… {total - UNFOLDED_LINES:,} more diff lines not drawn here"
    text = Text()
    budget = (UNFOLDED_LINES if fold is None else max(fold, 1)) * _LINE_CHARS
    for index, whole in enumerate(shown_lines):
        if budget <= 0:
            note = f"… {len(shown_lines) - index:,} more diff lines not shown"
            break
        style = next((s for prefix, s in _DIFF_STYLES if whole.startswith(prefix)), "")
        line = whole
        room = min(budget, _LINE_CUT)
        if len(line) > room:  # one huge line (a minified file) is cut, not laid out whole
            line = line[:room] + f" … {len(whole) - room:,} more chars"
        text.append(clean(line) + "\n", style=style)
        budget -= len(line)
    if note:
        text.append(note, style="dim italic")
    else:
        text.rstrip()
    return text


# -- results --------------------------------------------------------------------------------------


def parse_result(data: Any) -> Any:
    """A result as data: JSON text (a dict or list) parsed, anything else as it is."""
    if isinstance(data, str) and data[:1] in ("{", "["):
        try:
            parsed = json.loads(data)
        except ValueError:
            return data
        if isinstance(parsed, dict | list):
            return parsed  # pyright: ignore[reportUnknownVariableType]
    return data


def result_value_renderable(
    tool: str | None,
    data: Any,
    views: Views | None = None,
    *,
    fold: int | None = BLOCK_FOLD,
) -> RenderableType:
    """A tool's result for reading: the declared output first, then the rest by name."""
    value = parse_result(data)
    declared = (views or {}).get(tool or "")
    key = declared.output if declared is not None else None
    if isinstance(value, Mapping) and key and isinstance(value.get(key), str):
        rest = {k: v for k, v in value.items() if k != key}  # pyright: ignore[reportUnknownVariableType]
        output = str(value[key])  # pyright: ignore[reportUnknownArgumentType]
        shown, note = fold_lines(output, fold)
        parts: list[RenderableType] = []
        if rest:
            parts += [value_renderable(rest, fold=fold), Text("")]
        parts.append(Text(clean(key), style="bold"))
        parts.append(Text(clean(shown)))
        if note:
            parts.append(Text(note, style="dim italic"))
        return Group(*parts)
    return value_renderable(value, fold=fold)
