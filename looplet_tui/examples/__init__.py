"""Agents to open with ``looplet-tui run``; each file's ``make_agent`` is the factory."""
