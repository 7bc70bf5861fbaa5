"""Replay: a saved trace played back like a video, searched, and re-run live from any step.

Owns ``ReplayPlayer`` (``player``: a ``DebugController`` moving a playhead instead of running a
loop), search across a trace's prompts, replies, calls and results (``search``), and re-running
from a replayed step with a model and tools of your choosing (``rerun``).  Plain Python; the
keys that drive it are ``looplet_tui.app.replay_keys``.  May import ``looplet_core``,
``looplet_tui.live`` and ``looplet_tui.session``.
"""
