"""``ToolView``: how a person reads a tool's call and result, in plain data.

A debugger that shows ``{"path": "a.py", "content": "def f():\\n    ..."}`` makes you read code
through JSON escapes.  A tool may say what its arguments are instead: the command a ``bash`` tool
runs, the file a ``write`` tool writes and its text, the old and new text of an ``edit``, the patch
an ``apply_patch`` applies.  The viewer (``looplet_tui``) then shows a shell block, highlighted
code, or a unified diff.  This module is plain data and a guess, so ``looplet_core`` stays free
of Rich and Textual, and nothing here is written to checkpoints or traces: a recorded run is
shown with the guess, or with the views of the tools the viewer is given.

::

    @tool(view=ToolView.shell("command"))
    def bash(command: str) -> dict[str, Any]: ...

    @tool(view=ToolView.diff(old="before", new="after", path="file"))
    def replace(file: str, before: str, after: str) -> str: ...

Tools that declare no view get ``guess_view(name, args)``: an argument named ``command`` (or
``cmd``, ``script``) is a shell command; a path with ``content`` is a file write, highlighted by
the path's extension; ``old``/``new`` strings (``old_string``/``new_string``, ``old_str``/
``new_str``) are an edit shown as a diff; a ``patch`` or ``diff`` string is a patch.  Anything
else, MCP tools included, gets the generic view: every argument by name, multi-line strings as
blocks with their real line breaks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from looplet_core.errors import ToolRegistrationError

__all__ = ["VIEW_KINDS", "ToolView", "ViewKind", "guess_view", "language_for_path"]

ViewKind = Literal["generic", "shell", "code", "diff", "patch"]
VIEW_KINDS: tuple[ViewKind, ...] = ("generic", "shell", "code", "diff", "patch")


@dataclass(frozen=True, slots=True)
class ToolView:
    """Which arguments hold what, so a viewer can show the call the way a person reads it.

    ``kind``:

    * ``"generic"``: every argument by name (multi-line strings as blocks);
    * ``"shell"``: ``code`` names the argument holding a shell command line;
    * ``"code"``: ``code`` names the argument holding source text, in ``language`` or, when that
      is None, the language of the file named by the ``path`` argument's extension;
    * ``"diff"``: ``old`` and ``new`` name the arguments holding the text before and after
      (``path`` the file, if any), shown as a unified diff;
    * ``"patch"``: ``code`` names the argument holding a unified diff or patch.

    ``output`` names the key of a dict result holding the tool's text output (a shell tool's
    ``"output"``), shown first as a block; None lets the viewer show the result generically.
    Arguments a view does not name are still shown, after the ones it does.
    """

    kind: ViewKind = "generic"
    code: str | None = None
    path: str | None = None
    language: str | None = None
    old: str | None = None
    new: str | None = None
    output: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in VIEW_KINDS:
            raise ToolRegistrationError(
                f"ToolView kind {self.kind!r} is not one of {', '.join(VIEW_KINDS)}"
            )
        if self.kind in ("shell", "code", "patch") and not self.code:
            raise ToolRegistrationError(
                f"ToolView(kind={self.kind!r}) needs code=<the argument holding the text>"
            )
        if self.kind == "diff" and not (self.old and self.new):
            raise ToolRegistrationError(
                "ToolView(kind='diff') needs old= and new= (the arguments holding the text "
                "before and after)"
            )

    @classmethod
    def shell(cls, command: str = "command", *, output: str | None = None) -> ToolView:
        """A tool whose ``command`` argument is a shell command line."""
        return cls("shell", code=command, output=output)

    @classmethod
    def source(
        cls, code: str = "content", *, path: str | None = "path", language: str | None = None
    ) -> ToolView:
        """A tool whose ``code`` argument is source text (a file write, a snippet to run)."""
        return cls("code", code=code, path=path, language=language)

    @classmethod
    def diff(cls, old: str = "old", new: str = "new", *, path: str | None = "path") -> ToolView:
        """A tool that replaces the ``old`` argument's text with the ``new`` argument's."""
        return cls("diff", old=old, new=new, path=path)

    @classmethod
    def patch(cls, patch: str = "patch") -> ToolView:
        """A tool whose ``patch`` argument is a unified diff."""
        return cls("patch", code=patch)

    def named(self) -> tuple[str, ...]:
        """The arguments this view shows specially (the rest are listed generically)."""
        return tuple(a for a in (self.code, self.path, self.old, self.new) if a)


_SHELL_TOOLS = frozenset({"bash", "sh", "shell", "zsh", "run_shell", "run_command", "terminal"})
_COMMAND_ARGS = ("command", "cmd", "script")
_PATH_ARGS = ("path", "file_path", "filepath", "file", "filename")
_CONTENT_ARGS = ("content", "contents", "text", "code", "source")
_EDIT_PAIRS = (("old", "new"), ("old_string", "new_string"), ("old_str", "new_str"))
_PATCH_ARGS = ("patch", "diff")
_GENERIC = ToolView()


def _string(args: Mapping[str, Any], names: tuple[str, ...]) -> str | None:
    return next((n for n in names if isinstance(args.get(n), str)), None)


def guess_view(tool: str, args: Mapping[str, Any]) -> ToolView:
    """The view for a call of ``tool`` that declared none, from its name and arguments."""
    command = _string(args, _COMMAND_ARGS)
    if command is not None:
        return ToolView("shell", code=command, output=None)
    path = _string(args, _PATH_ARGS)
    for old, new in _EDIT_PAIRS:
        if isinstance(args.get(old), str) and isinstance(args.get(new), str):
            return ToolView("diff", old=old, new=new, path=path)
    patch = _string(args, _PATCH_ARGS)
    if patch is not None and "\n" in args[patch]:
        return ToolView("patch", code=patch)
    content = _string(args, _CONTENT_ARGS)
    if content is not None and (path is not None or content == "code"):
        return ToolView("code", code=content, path=path)
    if tool.lower() in _SHELL_TOOLS:
        only = [k for k, v in args.items() if isinstance(v, str)]
        if len(only) == 1:
            return ToolView("shell", code=only[0])
    return _GENERIC


_LANGUAGES: dict[str, str] = {
    "py": "python",
    "pyi": "python",
    "js": "javascript",
    "mjs": "javascript",
    "ts": "typescript",
    "tsx": "tsx",
    "jsx": "jsx",
    "json": "json",
    "toml": "toml",
    "yaml": "yaml",
    "yml": "yaml",
    "md": "markdown",
    "rst": "rst",
    "sh": "bash",
    "bash": "bash",
    "zsh": "bash",
    "c": "c",
    "h": "c",
    "cc": "cpp",
    "cpp": "cpp",
    "hpp": "cpp",
    "rs": "rust",
    "go": "go",
    "java": "java",
    "kt": "kotlin",
    "rb": "ruby",
    "php": "php",
    "sql": "sql",
    "html": "html",
    "css": "css",
    "xml": "xml",
    "ini": "ini",
    "cfg": "ini",
    "diff": "diff",
    "patch": "diff",
    "txt": "text",
}
_FILENAMES = {"makefile": "make", "dockerfile": "docker"}


def language_for_path(path: str | None) -> str:
    """The language a file is written in, by its name (``"text"`` when unknown)."""
    if not path:
        return "text"
    name = path.replace("\\", "/").rsplit("/", 1)[-1].lower()
    if name in _FILENAMES:
        return _FILENAMES[name]
    _, dot, ext = name.rpartition(".")
    return _LANGUAGES.get(ext, "text") if dot else "text"
