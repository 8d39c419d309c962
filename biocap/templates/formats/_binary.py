"""Bounds-checked big-endian reading and writing for the binary record codecs.

Every read names the field it reads, so a truncated or lying record fails with a
`TemplateFormatError` that says which field and which byte offset, instead of an IndexError
or a struct.error. Nothing here allocates more than the bytes actually present.
"""
from __future__ import annotations

import struct

from ...errors import TemplateFormatError

_HINT = "the record is damaged or is not in the format it claims; ask its producer for a new copy"


def fail(message: str, field: str, offset: int) -> TemplateFormatError:
    """The one way codecs report a malformed record."""
    return TemplateFormatError(message, field=field, offset=offset, hint=_HINT)


class Reader:
    """A cursor over `data[start:end]`; offsets it reports are absolute in the whole record."""

    def __init__(self, data: bytes, start: int = 0, end: int | None = None):
        self.data = data
        self.pos = start
        self.end = len(data) if end is None else min(end, len(data))

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def need(self, n: int, field: str) -> None:
        if n < 0 or self.pos + n > self.end:
            raise fail(f"record is truncated: {field} needs {n} bytes but only "
                       f"{max(self.remaining, 0)} remain", field, self.pos)

    def u8(self, field: str) -> int:
        self.need(1, field)
        value = self.data[self.pos]
        self.pos += 1
        return value

    def u16(self, field: str) -> int:
        self.need(2, field)
        (value,) = struct.unpack_from(">H", self.data, self.pos)
        self.pos += 2
        return value

    def u32(self, field: str) -> int:
        self.need(4, field)
        (value,) = struct.unpack_from(">I", self.data, self.pos)
        self.pos += 4
        return value

    def take(self, n: int, field: str) -> bytes:
        self.need(n, field)
        chunk = bytes(self.data[self.pos:self.pos + n])
        self.pos += n
        return chunk

    def sub(self, n: int, field: str) -> "Reader":
        """A reader over the next n bytes (which must exist); this cursor skips past them."""
        self.need(n, field)
        child = Reader(self.data, self.pos, self.pos + n)
        self.pos += n
        return child


class Writer:
    """Accumulates big-endian fields; range-checks each so a bad value cannot wrap silently."""

    def __init__(self):
        self.parts: list[bytes] = []
        self.size = 0

    def _put(self, chunk: bytes) -> None:
        self.parts.append(chunk)
        self.size += len(chunk)

    def _check(self, value: int, bits: int, field: str) -> int:
        value = int(value)
        if not 0 <= value < (1 << bits):
            raise TemplateFormatError(
                f"{field} = {value} does not fit the {bits}-bit field of this format",
                field=field, hint="change the value or choose a format that can hold it")
        return value

    def u8(self, value: int, field: str) -> None:
        self._put(bytes([self._check(value, 8, field)]))

    def u16(self, value: int, field: str) -> None:
        self._put(struct.pack(">H", self._check(value, 16, field)))

    def u32(self, value: int, field: str) -> None:
        self._put(struct.pack(">I", self._check(value, 32, field)))

    def raw(self, chunk: bytes) -> None:
        self._put(bytes(chunk))

    def getvalue(self) -> bytes:
        return b"".join(self.parts)
