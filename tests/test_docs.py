"""The user guide's Python blocks run, in order, as one script (issue 16: a reader of the docs
alone can write an enrollment script)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
#: documents whose ```python blocks are executed top to bottom
RUNNABLE = ("guide.md", "writing-a-driver.md#0", "writing-a-driver.md#2")


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


@pytest.mark.slow
@pytest.mark.parametrize("name", RUNNABLE)
def test_every_python_block_runs(name, tmp_path, monkeypatch, capsys):
    """A name `doc.md#N` runs the blocks of section N only (the rest need the research data)."""
    monkeypatch.chdir(tmp_path)
    name, _, section = name.partition("#")
    text = (DOCS / name).read_text()
    if section:
        text = re.split(rf"^## {section}\.", text, flags=re.M)[1].split("\n## ", 1)[0]
    blocks = python_blocks(text)
    assert blocks, f"{name} lost its examples"
    namespace: dict = {"__name__": f"docs_{name}"}
    for i, block in enumerate(blocks, 1):
        try:
            exec(compile(block, f"{name} block {i}", "exec"), namespace)
        except Exception as exc:  # name the block, not just the line
            raise AssertionError(f"{name}, Python block {i} failed: {exc!r}\n{block}") from exc


def test_block_extraction_sees_only_python_fences():
    text = "```sh\nmake demo\n```\n```python\nx = 1\n```\ntext\n```python\ny = 2\n```\n"
    assert python_blocks(text) == ["x = 1\n", "y = 2\n"]


def test_the_driver_guide_shows_the_nb1010_driver_as_it_is():
    """The guide's NB-1010 driver is the shipped one, line for line (docstring aside)."""
    source = (DOCS.parent / "plugins" / "nb1010" / "biocap_nb1010" / "driver.py").read_text()
    cls = source[source.index("class Nb1010Driver"):]
    cls = re.sub(r'\n    """.*?"""\n\n', "\n", cls, count=1, flags=re.S)
    assert cls in (DOCS / "writing-a-driver.md").read_text()
