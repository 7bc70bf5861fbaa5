"""Sub-agents: a whole loop offered to a parent loop as one tool.

Owns ``subagent`` (build a ``ToolSpec`` whose call runs a child loop with its own task, tools,
hooks and step budget, and answers with the child's final answer).  The child's run comes back
to the parent as ``looplet_core.step.ChildRun`` on the parent's step (``Step.child``), so
checkpoints, traces and the debugger keep the tree; the child's usage is added to the parent's.

May import: the loop and everything below it.  Above it are only the CLI, the evals and the
examples.
"""

from __future__ import annotations

from looplet_core.agents.subagent import SubagentSpec, subagent

__all__ = ["SubagentSpec", "subagent"]
