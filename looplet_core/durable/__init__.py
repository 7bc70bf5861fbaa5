"""Durable runs: checkpoints of a run, their format, where they are kept, the hook writing them.

Owns the ``Checkpoint`` record and what rebuilds a run from it (``checkpoints``), its JSON format
(``format``), the stores (``stores``: memory and files; ``runlog``, the file store's
append-only log of one run), and the hook that writes one checkpoint
per step and pauses a run for approval (``checkpointer``).  Run stores keep whole runs in a
database: ``runstore`` (the protocol), ``sqlstore`` (the shared SQL over a ``dialect``),
``sqlite`` and ``postgres`` (the dialects), ``connect`` (``open_store`` from a path or URL) and
``store_approver`` (approvals answered from another process, the guard and the event log).

May import: ``state`` and everything below it (``approvals`` among them: a stored decision
becomes one on the request), and ``provenance.redact`` (secrets are redacted the same way in
checkpoints and traces).  Third-party: only ``postgres`` imports psycopg, inside its functions.
Not the engine or the loop: the loop installs the checkpointer, so this package sits below it;
starting a run again from a checkpoint is ``looplet_core.runs``, above the loop.
"""
