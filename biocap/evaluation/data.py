"""Where the shared research data lives (never copied into the repository)."""
from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "BIOCAP_DATA"


def data_dir() -> Path:
    """`$BIOCAP_DATA`, else `../shared/data` beside the project checkout."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    project = Path(__file__).resolve().parents[2]
    return project.parent / "shared" / "data"


def data_path(*parts: str) -> Path:
    return data_dir().joinpath(*parts)
