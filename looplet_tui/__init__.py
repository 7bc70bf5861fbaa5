"""looplet_tui: a terminal step debugger for looplet_core agent loops.

Run ``looplet-tui demo`` to see it.  The pieces: ``DebugController`` (a plain looplet_core hook,
no UI: stepping, breakpoints, approvals) and ``DebuggerApp`` (the Textual app around it).
"""
