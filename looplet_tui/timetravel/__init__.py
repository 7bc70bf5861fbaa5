"""Time travel: a run's checkpoints as a branch tree, the state at any of them, and forks.

Owns laying out checkpoints as branches and describing the state at one (``tree``), and a
fork's branch as a session the debugger runs like any other (``forks``).  Plain Python: the
screens ``screens.checkpoints`` and ``screens.fork`` show it.  May import ``looplet_core`` and
``looplet_tui.session``.  The names the module ``looplet_tui.timetravel`` exported are in
``tree``.
"""
