"""Pick the examples' model: a real OpenAI-compatible endpoint when configured, else a script."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from looplet_core.backends.base import LLMBackend
from looplet_core.backends.mock import MockLLMBackend


def real_backend_configured() -> bool:
    return any(os.environ.get(k) for k in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_MODEL"))


def pick_backend(script: Sequence[Any], *, stream: bool = False) -> tuple[LLMBackend, str]:
    """``(backend, description)``: ``OPENAI_*`` variables select a real server, else ``script``."""
    if not real_backend_configured():
        return MockLLMBackend(script, report_usage=True, stream_chunk=8), "scripted model"
    try:
        from openai import OpenAI
    except ImportError as exc:  # the extra is missing: say how to fix it
        raise SystemExit(
            "OPENAI_* variables are set but the openai package is not installed: "
            'pip install "looplet-lab[openai]" (or unset them to use the scripted model)'
        ) from exc
    from looplet_core.backends.openai import OpenAIBackend

    base_url = os.environ.get("OPENAI_BASE_URL", "https://api.openai.com/v1")
    model = os.environ.get("OPENAI_MODEL", "gpt-4o-mini")
    client = OpenAI(base_url=base_url, api_key=os.environ.get("OPENAI_API_KEY", "not-needed"))
    return OpenAIBackend(client, model=model), f"{model} at {base_url}"
