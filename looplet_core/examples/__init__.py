"""Runnable examples: ``python -m looplet_core.examples.<name>``."""
