"""Hypothesis strategies for hostile files: random bytes, truncations, byte flips, deep nesting
and JSON documents with one value swapped for a random one, plus a tripwire that fails a test if
loading anything reaches for code execution."""

from __future__ import annotations

import builtins
import copy
import json
import marshal
import os
import pickle
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import strategies as st

JSON_LEAF = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.sampled_from(["", "ok", "error", "done", "user", "tool", "assistant", "-1", "1e999"])
)
JSON_VALUES = st.recursive(
    JSON_LEAF,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=8,
)

Path_ = tuple[str | int, ...]


def paths(doc: Any, prefix: Path_ = ()) -> Iterator[Path_]:
    """Every location in a JSON document (the root excluded)."""
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield (*prefix, key)
            yield from paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            yield (*prefix, i)
            yield from paths(value, (*prefix, i))


def _parent(doc: Any, path: Path_) -> Any:
    for part in path[:-1]:
        doc = doc[part]
    return doc


@st.composite
def mutated_json(draw: st.DrawFn, doc: Any) -> bytes:
    """``doc`` with one location replaced by a random JSON value, or deleted, as bytes."""
    doc = copy.deepcopy(doc)
    where = draw(st.sampled_from(list(paths(doc))))
    parent = _parent(doc, where)
    if draw(st.booleans()):
        parent[where[-1]] = draw(JSON_VALUES)
    else:
        del parent[where[-1]]
    return json.dumps(doc).encode()


def deep_nesting(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def hostile_bytes(original: bytes, doc: Any) -> st.SearchStrategy[bytes]:
    """What a damaged, foreign or malicious file might hold in place of ``original``."""
    return st.one_of(
        st.binary(max_size=512),
        st.integers(0, max(0, len(original) - 1)).map(lambda n: original[:n]),
        st.tuples(st.integers(0, max(0, len(original) - 1)), st.integers(0, 255)).map(
            lambda t: original[: t[0]] + bytes([t[1]]) + original[t[0] + 1 :]
        ),
        st.integers(1000, 200_000).map(deep_nesting),
        st.integers(1000, 200_000).map(lambda n: b"[" * n),
        st.just(original.replace(b'"', b"\xff", 1)),  # invalid UTF-8
        mutated_json(doc),
        mutated_json(doc),
        mutated_json(doc),
    )


class CodeExecutionAttempted(BaseException):
    """Raised by the tripwire; a BaseException so no ``except Exception`` can swallow it."""


_IMPORT_MACHINERY = ("importlib._bootstrap", "importlib._bootstrap_external")


@contextmanager
def no_code_execution() -> Iterator[None]:
    """Fail loudly if anything in the block unpickles, evals, execs or starts a process.

    Python's own import machinery (a lazy ``import`` of a stdlib codec, say) compiles and execs
    module code; calls from it pass through.  Data never gets there: only a name does.
    """

    def trip(module: Any, name: str) -> Callable[..., Any]:
        original = getattr(module, name)

        def tripped(*args: Any, **kwargs: Any) -> Any:
            caller = sys._getframe(1).f_globals.get("__name__", "")
            if caller in _IMPORT_MACHINERY:
                return original(*args, **kwargs)
            raise CodeExecutionAttempted(f"{module.__name__}.{name} called from {caller}")

        return tripped

    with pytest.MonkeyPatch.context() as patch:
        for module, name in [
            (pickle, "loads"),
            (pickle, "load"),
            (marshal, "loads"),
            (builtins, "eval"),
            (builtins, "exec"),
            (builtins, "compile"),
            (os, "system"),
            (subprocess, "Popen"),
        ]:
            patch.setattr(module, name, trip(module, name))
        yield
