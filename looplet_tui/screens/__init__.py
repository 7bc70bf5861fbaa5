"""Screens: the debugger's full-screen views and dialogs, one screen a file.

A screen is given what it needs when it is made (a store, a session, a callable answering "is
the run over?") and asks the app for anything more by posting a message the app handles (for
example ``CheckpointScreen.BranchChosen``); no screen imports ``looplet_tui.app``.  May import
``widgets``, ``text`` and the activities' plain-Python packages.
"""
