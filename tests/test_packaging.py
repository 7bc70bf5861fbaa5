"""The project's metadata: what `pip install -e .` reads on every set-up."""

from __future__ import annotations

import tomllib
from pathlib import Path

PYPROJECT = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text("utf-8"))


def test_license_is_an_spdx_expression_so_setuptools_prints_no_deprecation_banner() -> None:
    # A `{ text = ... }` table makes setuptools >= 77 print a deprecation banner on every install.
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
    assert "setuptools>=77" in PYPROJECT["build-system"]["requires"]
