"""The pre-publication ANSI INCITS 378 layout NIST libbiomeval reads as "ANSI 2007" (version
"030", 2-byte capture-equipment field in the header, 2009-style finger views). See ansi378_2009."""
from __future__ import annotations

from . import ansi378_2009
from .record import FingerprintRecord

NAME = ansi378_2009.NAME_2007


def decode(data: bytes, *, strict: bool = True) -> FingerprintRecord:
    return ansi378_2009.decode(data, strict=strict, name=NAME)


def encode(record: FingerprintRecord) -> bytes:
    return ansi378_2009.encode(record, name=NAME)
