"""What the panes say: model and tool text made safe, and each step drawn as Rich renderables.

Owns making text literal (``safe``: never markup, never terminal escapes), the detail tabs'
renderables for a step (``render``) and what changed in the prompt between two model calls
(``promptdiff``).  Widgets and screens draw with these; nothing here is a widget.  May import
``looplet_core`` and ``looplet_tui.live``.
"""
