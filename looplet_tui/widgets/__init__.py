"""Widgets: the parts of the debugger's screen, one widget a file, each with its DEFAULT_CSS.

A widget shows what it is given (a step, a row, numbers) and says what happened through
nested ``Message`` classes; it never reaches for the app.  May import ``looplet_tui.text`` and
the activities' plain-Python packages (``live``, ``replay``, ...); not ``screens`` or ``app``.
"""
