"""Run diff: two runs' steps aligned, with what differs in each pair (``looplet-tui diff``).

Owns the alignment and the per-pair differences (``align``), in plain Python; the screen is
``screens.run_diff``.  May import ``looplet_core`` only.
"""
