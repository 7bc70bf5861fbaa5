"""Reading and checking a trace's ``manifest.json``: format name, version, and typed fields.

Kept apart from the reader because the sink checks an existing directory with it too: a sink
asked to write into another run's trace must know whose trace it is before it writes anything.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, cast

from looplet_core.errors import TraceError
from looplet_core.provenance import format as fmt
from looplet_core.records import StopReason

__all__ = ["is_trace", "locate_trace", "read_manifest"]


def is_trace(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a directory holding a trace manifest."""
    return (Path(path) / fmt.MANIFEST).is_file()


def locate_trace(path: str | os.PathLike[str]) -> Path:
    """The trace at ``path``, or the one trace directly inside it.

    ``ProvenanceSink(root)`` writes each run into ``root/<run id>/``, so the directory a user
    named is often the one holding the trace: that one is opened.  When it holds several (or
    none) the error lists what is there, so the next command is obvious.
    """
    where = Path(path)
    if is_trace(where) or not where.is_dir():
        return where  # read_manifest says what is wrong with a missing path
    inside = sorted(child for child in where.iterdir() if is_trace(child))
    if len(inside) == 1:
        return inside[0]
    if not inside:
        raise TraceError(
            f"{where} is not a trace: it has no {fmt.MANIFEST}, and no directory in it has one"
        )
    shown = ", ".join(child.name for child in inside[:5]) + (" …" if len(inside) > 5 else "")
    raise TraceError(
        f"{where} is not a trace: it holds {len(inside)} traces ({shown}); "
        f"name one of them, e.g. {inside[0]}"
    )


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of the trace in ``path``, checked for format name and version."""
    if not path.is_dir():
        raise TraceError(f"{path}: no such trace directory")
    file = path / fmt.MANIFEST
    if not file.is_file():
        raise TraceError(f"{path} is not a trace: it has no {fmt.MANIFEST}")
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as exc:
        raise TraceError(f"{file}: not valid JSON ({exc})") from exc
    data = cast(dict[str, Any], manifest) if isinstance(manifest, dict) else {}
    if data.get("format") != fmt.FORMAT_NAME:
        raise TraceError(
            f"{file}: not a looplet trace manifest (format should be {fmt.FORMAT_NAME!r})"
        )
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise TraceError(f"{file}: the format version {version!r} is not an integer")
    if version > max(fmt.SUPPORTED_VERSIONS):
        raise TraceError(
            f"{file}: trace format version {version} is newer than this looplet_core reads "
            f"(versions {list(fmt.SUPPORTED_VERSIONS)}); upgrade looplet_core to read it"
        )
    if version not in fmt.SUPPORTED_VERSIONS:
        raise TraceError(
            f"{file}: trace format version {version} is older than any this looplet_core reads "
            f"(versions {list(fmt.SUPPORTED_VERSIONS)}); re-record the run"
        )
    _check_manifest(file, data)
    return data


def _check_manifest(file: Path, data: dict[str, Any]) -> None:
    """The fields the reader interprets must have their types: fail here, not in a property."""
    stop = data.get("stop_reason")
    if stop is not None and str(stop) not in {reason.value for reason in StopReason}:
        raise TraceError(f"{file}: unknown stop_reason {stop!r}")
    totals: object = data.get("totals")
    if totals is not None and not isinstance(totals, dict):
        raise TraceError(f"{file}: totals should be an object, got {type(totals).__name__}")
    for key in ("input_tokens", "output_tokens", "llm_calls", "steps"):
        value = cast(dict[str, Any], totals or {}).get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise TraceError(f"{file}: totals.{key} should be an integer, got {value!r}")
