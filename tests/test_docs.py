"""The user guide's Python blocks run, in order, as one script (issue 16: a reader of the docs
alone can write an enrollment script)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
#: documents whose ```python blocks are executed top to bottom
RUNNABLE = ("guide.md",)


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


@pytest.mark.slow
@pytest.mark.parametrize("name", RUNNABLE)
def test_every_python_block_runs(name, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    blocks = python_blocks((DOCS / name).read_text())
    assert len(blocks) >= 5, "the guide lost its examples"
    namespace: dict = {"__name__": f"docs_{name}"}
    for i, block in enumerate(blocks, 1):
        try:
            exec(compile(block, f"{name} block {i}", "exec"), namespace)
        except Exception as exc:  # name the block, not just the line
            raise AssertionError(f"{name}, Python block {i} failed: {exc!r}\n{block}") from exc


def test_block_extraction_sees_only_python_fences():
    text = "```sh\nmake demo\n```\n```python\nx = 1\n```\ntext\n```python\ny = 2\n```\n"
    assert python_blocks(text) == ["x = 1\n", "y = 2\n"]
