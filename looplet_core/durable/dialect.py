"""What a database must supply to ``SQLRunStore``: a DB-API ``Cursor`` and a ``Dialect``.

``sqlite`` and ``postgres`` each implement ``Dialect``; a new database is one more class (its
schema, placeholders, transactions, locks, waiting, error messages) and a line in
``connect.open_store``.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol, cast

from looplet_core.errors import CheckpointError, StoreError

__all__ = ["Cursor", "Dialect", "default_owner", "row_object", "row_text"]


class Cursor(Protocol):
    """The DB-API cursor both drivers give."""

    @property
    def rowcount(self) -> int: ...

    def execute(self, sql: Any, params: Any = ..., /) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Dialect(Protocol):
    """What differs between databases: connecting, transactions, locks, waiting, errors."""

    name: str
    where: str
    schema: Sequence[str]
    chain_sql: str | None
    """The fold query of ``chainfold``, or None where the full path is faster.  Its parameters
    are (run_id, seq); for each checkpoint of the run up to ``seq``, in ``seq`` order, it gives
    ``id``, ``ok`` (every field has the type ``Checkpoint.from_json`` requires and the
    document's id is the row's), the document's ``parent``, ``messages.keep``, ``messages.add``
    (as JSON text), ``steps.keep``, the length of ``steps.add``, and the document.  A document
    that is not JSON may make the query fail: the store then takes the full path, which names
    the problem."""

    def sql(self, text: str) -> str:
        """``text`` (written with ``?`` placeholders) in this driver's placeholder style."""
        ...

    def transaction(self) -> AbstractContextManager[Cursor]:
        """A write transaction holding the store-wide write lock."""
        ...

    def read(self) -> AbstractContextManager[Cursor]: ...

    def lock_run(self, cur: Cursor, run_id: str) -> None:
        """Serialise writers of one run inside the current transaction."""
        ...

    def wait(self, timeout: float) -> None:
        """Sleep up to ``timeout`` s, returning early when the database signals a change."""
        ...

    def notify(self, cur: Cursor, run_id: str) -> None: ...

    def try_lease(self, run_id: str, owner: str) -> str | None:
        """Take the run's lease: None on success, else who holds it."""
        ...

    def release_lease(self, run_id: str, owner: str) -> None: ...

    def failure(self, exc: BaseException, doing: str) -> StoreError | None:
        """A driver error as a ``StoreError`` saying what to do; None if it is not one."""
        ...

    def probe(self) -> None:
        """Raise the driver's error unless a write could be recorded now."""
        ...

    def close(self) -> None: ...


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def row_text(value: object) -> str:
    """A TEXT column as ``str`` (a driver may hand back bytes or a memoryview)."""
    if isinstance(value, memoryview):
        return value.tobytes().decode("utf-8", "replace")
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def row_object(value: object, where: str) -> dict[str, Any]:
    """A JSON-object column decoded; anything else is a ``CheckpointError`` naming ``where``."""
    try:
        doc: object = json.loads(row_text(value))
    except ValueError as exc:
        raise CheckpointError(f"{where}: not valid JSON (corrupt row?): {exc}") from None
    if not isinstance(doc, dict):
        raise CheckpointError(f"{where}: expected a JSON object, got {type(doc).__name__}")
    return cast(dict[str, Any], doc)
