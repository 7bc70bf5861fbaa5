"""Context: what the next prompt costs, how full the window is, and what to drop when it is full.

Owns token estimation (``estimators``), pricing a prompt by role against the window
(``tokens``: ``ContextMeter``), the warn / compact / block tiers (``budget``), the compaction
stages and chains (``compact``, ``summarize``), and the hooks that act on pressure (``hooks``:
``ThresholdCompactHook``, ``ContextPressureHook``).

May import: the loop's data (``messages``, ``records``, ``prompt``, ``decisions``, ``events``,
``errors``) and ``backends.base``; not ``state``, the engine or the loop (``LoopConfig`` holds a
budget and an estimator, so it sits above this package).
"""
