"""The API reference (docs/api.md) is generated from the docstrings and kept up to date, and every
public definition it lists has a docstring."""
from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "docs" / "api_reference.py"


def _script():
    spec = importlib.util.spec_from_file_location("api_reference", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_public_definition_has_a_docstring():
    missing = _script().missing_docstrings()
    assert not missing, "public definitions without a docstring:\n" + "\n".join(missing)


def test_docs_api_md_is_up_to_date():
    api = _script()
    assert api.OUT.read_text() == api.render(), "docs/api.md is stale: run .venv/bin/python docs/api_reference.py"
