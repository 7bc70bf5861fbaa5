"""Approvals: which tool calls need a person's yes, how they ask, and how the answer comes back.

Owns ``ApprovalRequest`` / ``ApprovalDecision`` and the ``Approver`` protocol (``requests``),
the hooks that ask (``hooks``: ``ApprovalHook``, ``TerminalApprover``, ``auto_approve``), and
the allow/deny/ask rules by tool and argument (``permissions``).  Pausing a run until the answer
arrives is ``durable.checkpointer``'s job; the decision the loop acts on is an ``AskApproval``.

May import: the loop's data (``messages``, ``decisions``, ``records``, ``errors``) and nothing
above it: not ``state``, ``tools``, the engine or the loop.
"""
