"""ANSI INCITS 378-2009 with Amendment 1 ("FMR\\0" "035\\0"): the 2009 layout, version "035",
the multi-finger position codes 40-50, and at least one finger view. See ansi378_2009."""
from __future__ import annotations

from . import ansi378_2009
from .record import FingerprintRecord

NAME = ansi378_2009.NAME_AM1


def decode(data: bytes, *, strict: bool = True) -> FingerprintRecord:
    return ansi378_2009.decode(data, strict=strict, name=NAME)


def encode(record: FingerprintRecord) -> bytes:
    return ansi378_2009.encode(record, name=NAME)
