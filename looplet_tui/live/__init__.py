"""The live debugger's plain-Python side: what a person stepping through a running agent relies on.

Owns ``DebugController`` (``controller``: the hook that pauses the loop at phases and breakpoints
and hands approvals to the UI), what is known about the run (``runstate``, ``history``, and a
reply streaming in, kept in pieces: ``stream``), the breakpoints (``breakpoints``), the
context-window numbers behind the gauge (``context``) and the step filters (``filters``).  No
Textual here: widgets and screens read these, and the tests drive them without a screen.  May
import ``looplet_core`` and ``looplet_tui.session``; nothing else of ``looplet_tui``.
"""
