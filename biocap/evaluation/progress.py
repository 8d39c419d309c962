"""Progress and notes of long benchmark runs: always on stderr, so stdout stays clean JSON."""
from __future__ import annotations

import sys
from typing import Iterable, Iterator, TypeVar

from tqdm import tqdm

T = TypeVar("T")


def progress(items: Iterable[T], *, desc: str, total: int | None = None,
             enabled: bool = True) -> Iterator[T]:
    """Iterate `items` with a progress bar on stderr (silent when `enabled` is False)."""
    return iter(tqdm(items, desc=desc, total=total, file=sys.stderr, disable=not enabled,
                     mininterval=0.5, leave=False, dynamic_ncols=True))


def note(text: str, *, enabled: bool = True) -> None:
    """One line of information for a person watching the run (stderr)."""
    if enabled:
        print(text, file=sys.stderr, flush=True)
