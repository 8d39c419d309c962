"""ISO/IEC 19794-7:2007 compact format (smart cards and other tokens): read and write.

The compact record is only the sample points: each included channel in one byte per point, in the
full format's channel order (signed channels x, y, vx, vy, ax, ay, tilt x, tilt y as value + 128;
the others unsigned). There is no header: which channels are present, and how a byte maps back
to channel units, travels outside the record (on a card, in its biometric information template).
biocap keeps that as a `CompactLayout` (channels, per-channel offset and step in the full
format's channel units, and the full format's scaling values), JSON-serialisable.

Encoding quantises: each channel is mapped onto its 8-bit range with the smallest integer step
that fits the signature's span, so decoding gives every value back within half a step (exact
where the span fits 256 values, e.g. the tip switch or a dt of a steady pad).

    data, layout = encode(full_record)             # default channels x, y, dt, f, s
    record = decode(data, layout)                  # a SignatureRecord in full-format units
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...errors import TemplateFormatError
from ._binary import fail
from .iso19794_7_2007 import CHANNELS, SIGNED, ChannelDescription, SignatureRecord

NAME = "iso19794-7:2007-compact"
DEFAULT_CHANNELS = ("x", "y", "dt", "f", "s")
MAX_POINTS = 1 << 16  # a token holds a few kB; refuse more rather than allocate


@dataclass(frozen=True)
class CompactLayout:
    channels: tuple[str, ...]
    offsets: tuple[int, ...]
    steps: tuple[int, ...]
    scalings: tuple[float | None, ...]

    def __post_init__(self):
        n = len(self.channels)
        if not (len(self.offsets) == len(self.steps) == len(self.scalings) == n) or n == 0:
            raise TemplateFormatError("compact layout: channels, offsets, steps and scalings "
                                      "must have one entry per channel", field="layout")
        order = [CHANNELS.index(c) if c in CHANNELS else -1 for c in self.channels]
        if -1 in order or order != sorted(set(order)):
            raise TemplateFormatError(f"compact layout channels {self.channels} must be distinct "
                                      f"channels in the order {CHANNELS}", field="layout.channels")
        if not {"x", "y"} <= set(self.channels):
            raise TemplateFormatError("channels x and y are mandatory", field="layout.channels")
        for s in self.steps:
            if not (isinstance(s, (int, np.integer)) and 1 <= s <= 65535):
                raise TemplateFormatError(f"compact step {s!r} must be an integer 1-65535",
                                          field="layout.steps")
        for o in self.offsets:
            if not (isinstance(o, (int, np.integer)) and -65536 <= o <= 65535):
                raise TemplateFormatError(f"compact offset {o!r} is out of range",
                                          field="layout.offsets")

    def to_json(self) -> dict[str, Any]:
        return {"channels": list(self.channels), "offsets": list(self.offsets),
                "steps": list(self.steps), "scalings": list(self.scalings)}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> "CompactLayout":
        try:
            return cls(tuple(obj["channels"]), tuple(int(v) for v in obj["offsets"]),
                       tuple(int(v) for v in obj["steps"]),
                       tuple(None if v is None else float(v) for v in obj["scalings"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise TemplateFormatError(f"compact layout is malformed: {exc}", field="layout") from exc


def _channel_values(record: SignatureRecord, name: str) -> np.ndarray:
    if name in record.channels:
        return record.column(name)
    if name == "dt" and "t" in record.channels:
        t = record.column("t")
        return np.concatenate([[0], np.diff(t)])
    raise TemplateFormatError(f"the record has no {name} channel to put in the compact record",
                              field=f"channel[{name}]")


def encode(record: SignatureRecord, channels=DEFAULT_CHANNELS) -> tuple[bytes, CompactLayout]:
    """The compact bytes of `record` and the layout needed to read them back."""
    if not isinstance(record, SignatureRecord):
        raise TemplateFormatError(f"expected a SignatureRecord, got {type(record).__name__}")
    channels = tuple(c for c in CHANNELS if c in channels)
    n = len(record.samples)
    if not 1 <= n <= MAX_POINTS:
        raise TemplateFormatError(f"{n} points; a compact record holds 1-{MAX_POINTS}",
                                  field="sample_points")
    offsets, steps, scalings, cols = [], [], [], []
    for c in channels:
        v = _channel_values(record, c).astype(np.int64)
        lo, hi = int(v.min()), int(v.max())
        step = max(1, math.ceil((hi - lo) / 255)) if hi > lo else 1
        offset = lo + 128 * step if c in SIGNED else lo  # signed bytes are centred on the span
        q = np.rint((v - offset) / step).astype(np.int64)
        q = q + 128 if c in SIGNED else q
        if q.min() < 0 or q.max() > 255:
            raise TemplateFormatError(f"channel {c} does not fit one byte", field=f"channel[{c}]")
        offsets.append(offset)
        steps.append(step)
        if c == "dt" and "dt" not in record.channels:
            scalings.append(record.channels["t"].scaling)
        else:
            scalings.append(record.channels[c].scaling)
        cols.append(q.astype(np.uint8))
    layout = CompactLayout(channels, tuple(offsets), tuple(steps), tuple(scalings))
    return np.stack(cols, 1).tobytes(), layout


def decode(data: bytes, layout: CompactLayout) -> SignatureRecord:
    """A full-format SignatureRecord (channel units) from compact bytes and their layout."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TemplateFormatError(f"expected the record's bytes, got {type(data).__name__}")
    if not isinstance(layout, CompactLayout):
        raise TemplateFormatError("decoding a compact record needs its CompactLayout",
                                  field="layout")
    data = bytes(data)
    k = len(layout.channels)
    if len(data) == 0:
        raise fail("the compact record is empty", "sample_points", 0)
    if len(data) % k:
        raise fail(f"{len(data)} bytes is not a whole number of {k}-byte sample points",
                   "sample_points", len(data) - len(data) % k)
    n = len(data) // k
    if n > MAX_POINTS:
        raise fail(f"{n} points; a compact record holds at most {MAX_POINTS}", "sample_points", 0)
    q = np.frombuffer(data, np.uint8).reshape(n, k).astype(np.int64)
    cols, desc = [], {}
    for i, c in enumerate(layout.channels):
        v = q[:, i] - 128 if c in SIGNED else q[:, i]
        cols.append(v * layout.steps[i] + layout.offsets[i])
        desc[c] = ChannelDescription(scaling=layout.scalings[i])
    return SignatureRecord(desc, np.stack(cols, 1), None, NAME)
