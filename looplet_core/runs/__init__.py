"""Runs started again: resume a run from its last checkpoint, or fork one into a new branch.

Owns ``resume`` / ``restore`` (``resume``: rebuild the state and tools' view from a checkpoint,
then go on, answering a pending approval on the way) and ``fork`` (``fork``: a new branch from
any checkpoint, optionally with an edited message or tool result).

May import: the loop and everything below it (``durable`` for the checkpoints, ``approvals``
for pending requests).  Above it are only the CLI, the evals and the examples.
"""
