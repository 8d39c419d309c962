"""ISO/IEC 19794-7:2007 signature/sign time series records, full format: read and write.

    record = SignatureRecord.from_pen(pen, units_per_mm=100)   # what the pad gave, as integers
    data = encode(record); record = decode(data); pen = record.to_pen()

Layout (big-endian; see docs/signature.md for which detail rests on which source):
  header  format identifier "SDI\\0" (4), version " 10\\0" (4), channel inclusion bit-map (2: bit 15
          = x, 14 y, 13 z, 12 vx, 11 vy, 10 ax, 9 ay, 8 t, 7 dt, 6 f (tip force), 5 s (tip switch),
          4 tilt x, 3 tilt y, 2 azimuth, 1 elevation, 0 rotation; x and y mandatory), one channel
          description per included channel in that order, reserved (1, zero)
  channel description  preamble (1: bit 7 scaling value present, 6 minimum, 5 maximum, 4 mean,
          3 standard deviation, 2 channel is constant, 1 linear component removed, 0 reserved),
          then 2 bytes for each present value in that order (constant and linear-component flags
          carry no value). Scaling value = 2^(e - 16) x (1 + f / 2048), e the top 5 bits, f the
          low 11; min, max, mean are coded like the channel's samples, std unsigned
  body    optionality bit-map (1: bit 7 = extended data present), number of sample points (3),
          sample points (each included channel in order: signed channels x, y, vx, vy, ax, ay,
          tilt x, tilt y as value + 32768 in 2 bytes; unsigned channels in 2 bytes; the tip switch
          in 1 byte), then, when flagged, extended data length (2) and the extended data.
Units: the scaling value is channel units per mm (positions), per mm/s, per mm/s^2, per second
(t, dt), per newton (force), per degree (angles).

Every malformed input raises `TemplateFormatError` naming the field and the byte offset.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ...errors import TemplateFormatError
from ...types import PenSeries
from ._binary import Reader, Writer, fail

NAME = "iso19794-7:2007"
MAGIC = b"SDI\x00"
VERSION = b" 10\x00"
#: channel names, most significant inclusion bit first
CHANNELS = ("x", "y", "z", "vx", "vy", "ax", "ay", "t", "dt", "f", "s", "tx", "ty", "az", "el", "r")
SIGNED = frozenset({"x", "y", "vx", "vy", "ax", "ay", "tx", "ty"})
ATTRS = ("scaling", "minimum", "maximum", "mean", "std")  # preamble bits 7..3, each 2 bytes
MAX_POINTS = (1 << 24) - 1
MAX_RECORD = 64 * 1024 * 1024


def channel_bytes(name: str) -> int:
    return 1 if name == "s" else 2


def channel_range(name: str) -> tuple[int, int]:
    if name == "s":
        return 0, 255
    return (-32768, 32767) if name in SIGNED else (0, 65535)


def decode_scaling(word: int) -> float:
    return math.ldexp(1.0 + (word & 0x7FF) / 2048.0, (word >> 11) - 16)


def encode_scaling(value: float, field_name: str = "scaling") -> int:
    """The 16-bit code of a scaling value (nearest representable; 2^-16 to just under 2^16)."""
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise TemplateFormatError(f"scaling value {value!r} must be a positive number",
                                  field=field_name)
    m, e = math.frexp(value)  # value = m * 2^e, 0.5 <= m < 1
    e -= 1
    frac = int(round((m * 2 - 1) * 2048))
    if frac == 2048:
        frac, e = 0, e + 1
    if not -16 <= e <= 15:
        raise TemplateFormatError(f"scaling value {value} is outside what the record can hold "
                                  f"(2^-16 to 2^16)", field=field_name)
    return ((e + 16) << 11) | frac


@dataclass
class ChannelDescription:
    """A channel's description: the optional values of its preamble and its two flags."""

    scaling: float | None = None   # channel units per physical unit (see the module docstring)
    minimum: int | None = None     # in channel units, like the samples
    maximum: int | None = None
    mean: int | None = None
    std: int | None = None
    constant: bool = False
    linear_component_removed: bool = False


@dataclass
class SignatureRecord:
    """The channels of a signature/sign time series record and its sample points.

    `samples` is an (n, number of channels) int64 array, columns in CHANNELS order restricted to
    the included channels, holding the channel values (signed channels as signed integers)."""

    channels: dict[str, ChannelDescription]
    samples: np.ndarray
    extended_data: bytes | None = None
    format: str = NAME
    notes: list[str] = field(default_factory=list)

    def __post_init__(self):
        unknown = [c for c in self.channels if c not in CHANNELS]
        if unknown:
            raise TemplateFormatError(f"unknown channel(s) {unknown}; channels are {CHANNELS}",
                                      field="channel_inclusion")
        self.channels = {c: self.channels[c] for c in CHANNELS if c in self.channels}
        for c, d in self.channels.items():
            if not isinstance(d, ChannelDescription):
                raise TemplateFormatError(f"channel {c} needs a ChannelDescription",
                                          field=f"channel[{c}]")
        if not {"x", "y"} <= set(self.channels):
            raise TemplateFormatError("channels x and y are mandatory", field="channel_inclusion")
        s = np.asarray(self.samples)
        if s.ndim != 2 or s.shape[1] != len(self.channels):
            raise TemplateFormatError(f"samples must be (n, {len(self.channels)}), got {s.shape}",
                                      field="sample_points")
        self.samples = s.astype(np.int64)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.channels)

    def column(self, name: str) -> np.ndarray:
        return self.samples[:, self.names.index(name)]

    def physical(self, name: str) -> np.ndarray:
        """A channel in physical units (mm, s, N, degrees) using its scaling value."""
        d = self.channels[name]
        if d.scaling is None:
            raise TemplateFormatError(f"channel {name} has no scaling value", field=f"channel[{name}]")
        return self.column(name) / d.scaling

    @classmethod
    def from_pen(cls, pen: PenSeries, *, units_per_mm: float = 100.0,
                 pressure_per_newton: float | None = None) -> "SignatureRecord":
        """A record of what the pad gave: x, y (pad units, shifted to start at 0 where they would
        not fit 16 bits), t (ms since the first sample), tip force (pad levels), tip switch, and
        azimuth/elevation when the pen series has them (pad units, no scaling)."""
        x, y = np.rint(np.asarray(pen.x, float)).astype(np.int64), np.rint(np.asarray(pen.y, float)).astype(np.int64)
        t = np.asarray(pen.t_ms, float)
        t = np.rint(t - t[0]).astype(np.int64)
        f = np.rint(np.asarray(pen.pressure, float)).astype(np.int64)
        s = np.asarray(pen.pen_down).astype(np.int64)
        notes = []
        for name, col in (("x", x), ("y", y)):
            if col.min() < -32768 or col.max() > 32767:
                raise TemplateFormatError(f"pen {name} values {col.min()}..{col.max()} do not fit "
                                          "the 16-bit signed channel", field=f"channel[{name}]",
                                          hint="rescale the pen series (coarser units) first")
        cols = {"x": x, "y": y, "t": t, "f": f, "s": s}
        desc = {"x": ChannelDescription(scaling=units_per_mm),
                "y": ChannelDescription(scaling=units_per_mm),
                "t": ChannelDescription(scaling=1000.0),
                "f": ChannelDescription(scaling=pressure_per_newton, minimum=int(f.min()),
                                        maximum=int(f.max())),
                "s": ChannelDescription()}
        if pen.azimuth is not None and pen.altitude is not None:
            cols["az"] = np.rint(np.asarray(pen.azimuth, float)).astype(np.int64)
            cols["el"] = np.rint(np.asarray(pen.altitude, float)).astype(np.int64)
            desc["az"], desc["el"] = ChannelDescription(), ChannelDescription()
        for name, col in cols.items():
            lo, hi = channel_range(name)
            if col.min() < lo or col.max() > hi:
                raise TemplateFormatError(f"pen {name} values {col.min()}..{col.max()} do not fit "
                                          f"the channel ({lo}..{hi})", field=f"channel[{name}]")
        names = [c for c in CHANNELS if c in cols]
        return cls({c: desc[c] for c in names}, np.stack([cols[c] for c in names], 1), notes=notes)

    def to_pen(self) -> PenSeries:
        """The pen series back (pad units; t in ms from the T channel, else from DT)."""
        x, y = self.column("x").astype(float), self.column("y").astype(float)
        n = len(x)
        if "t" in self.channels:
            sc = self.channels["t"].scaling or 1000.0
            t = self.column("t") * 1000.0 / sc
        elif "dt" in self.channels:
            sc = self.channels["dt"].scaling or 1000.0
            t = np.concatenate([[0.0], np.cumsum(self.column("dt")[1:] * 1000.0 / sc)])
        else:
            raise TemplateFormatError("the record has neither a t nor a dt channel: no time base",
                                      field="channel_inclusion")
        p = self.column("f").astype(float) if "f" in self.channels else np.zeros(n)
        down = self.column("s") > 0 if "s" in self.channels else p > 0
        az = self.column("az").astype(float) if "az" in self.channels else None
        el = self.column("el").astype(float) if "el" in self.channels else None
        return PenSeries(x=x, y=y, pressure=p, t_ms=t, pen_down=down, azimuth=az, altitude=el)


# --- binary ---------------------------------------------------------------------------------------
def _point_dtype(names) -> np.dtype:
    return np.dtype([(c, "u1" if c == "s" else ">u2") for c in names])


def decode(data: bytes, *, strict: bool = True) -> SignatureRecord:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TemplateFormatError(f"expected the record's bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) > MAX_RECORD:
        raise fail(f"{len(data)} bytes is far larger than any signature record", "record", 0)
    r = Reader(data)
    if r.take(4, "format_identifier") != MAGIC:
        raise fail("not a signature/sign time series record (expected 'SDI\\0')",
                   "format_identifier", 0)
    version = r.take(4, "version")
    if version != VERSION:
        raise fail(f"version {version!r} is not the 2007 format (' 10\\0')", "version", 4)
    inclusion = r.u16("channel_inclusion")
    names = [c for i, c in enumerate(CHANNELS) if inclusion & (1 << (15 - i))]
    if not {"x", "y"} <= set(names):
        raise fail(f"channel inclusion 0x{inclusion:04x} lacks the mandatory x and y channels",
                   "channel_inclusion", 8)
    channels: dict[str, ChannelDescription] = {}
    for c in names:
        at = r.pos
        pre = r.u8(f"channel[{c}].preamble")
        if pre & 0x01 and strict:
            raise fail(f"channel {c}: reserved preamble bit is set", f"channel[{c}].preamble", at)
        d = ChannelDescription(constant=bool(pre & 0x04), linear_component_removed=bool(pre & 0x02))
        for bit, attr in zip((0x80, 0x40, 0x20, 0x10, 0x08), ATTRS):
            if not pre & bit:
                continue
            at = r.pos
            word = r.u16(f"channel[{c}].{attr}")
            if attr == "scaling":
                d.scaling = decode_scaling(word)
            elif attr == "std" or c not in SIGNED:
                setattr(d, attr, word)
            else:
                setattr(d, attr, word - 32768)
        channels[c] = d
    at = r.pos
    reserved = r.u8("reserved")
    if reserved and strict:
        raise fail(f"reserved header byte is {reserved}, not 0", "reserved", at)
    bitmap = r.u8("body_optionality")
    at = r.pos
    hi = r.u8("number_of_points")
    count = (hi << 16) | r.u16("number_of_points")
    dtype = _point_dtype(names)
    if count * dtype.itemsize > r.remaining:
        raise fail(f"{count} sample points of {dtype.itemsize} bytes need "
                   f"{count * dtype.itemsize} bytes, only {r.remaining} remain",
                   "sample_points", r.pos)
    if count == 0 and strict:
        raise fail("the record holds no sample points", "number_of_points", at)
    raw = np.frombuffer(r.take(count * dtype.itemsize, "sample_points"), dtype=dtype, count=count)
    cols = []
    for c in names:
        col = raw[c].astype(np.int64)
        cols.append(col - 32768 if c in SIGNED else col)
    samples = np.stack(cols, 1) if cols else np.zeros((0, len(names)), np.int64)
    ext = None
    if bitmap & 0x80:
        n = r.u16("extended_data_length")
        ext = r.take(n, "extended_data")
    if r.remaining and strict:
        raise fail(f"{r.remaining} bytes follow the end of the record", "record_end", r.pos)
    notes = [] if not r.remaining else [f"{r.remaining} trailing bytes ignored"]
    return SignatureRecord(channels, samples, ext, NAME, notes)


def encode(record: SignatureRecord) -> bytes:
    if not isinstance(record, SignatureRecord):
        raise TemplateFormatError(f"expected a SignatureRecord, got {type(record).__name__}")
    names = record.names
    n = len(record.samples)
    if not 1 <= n <= MAX_POINTS:
        raise TemplateFormatError(f"{n} sample points; the record holds 1-{MAX_POINTS}",
                                  field="number_of_points")
    w = Writer()
    w.raw(MAGIC)
    w.raw(VERSION)
    w.u16(sum(1 << (15 - CHANNELS.index(c)) for c in names), "channel_inclusion")
    for c in names:
        d = record.channels[c]
        pre = (0x04 if d.constant else 0) | (0x02 if d.linear_component_removed else 0)
        for bit, attr in zip((0x80, 0x40, 0x20, 0x10, 0x08), ATTRS):
            if getattr(d, attr) is not None:
                pre |= bit
        w.u8(pre, f"channel[{c}].preamble")
        for attr in ATTRS:
            v = getattr(d, attr)
            if v is None:
                continue
            if attr == "scaling":
                w.u16(encode_scaling(v, f"channel[{c}].scaling"), f"channel[{c}].scaling")
            elif attr == "std" or c not in SIGNED:
                w.u16(int(v), f"channel[{c}].{attr}")
            else:
                w.u16(int(v) + 32768, f"channel[{c}].{attr}")
    w.u8(0, "reserved")
    w.u8(0x80 if record.extended_data else 0, "body_optionality")
    w.u8(n >> 16, "number_of_points")
    w.u16(n & 0xFFFF, "number_of_points")
    out = np.zeros(n, dtype=_point_dtype(names))
    for i, c in enumerate(names):
        col = record.samples[:, i]
        lo, hi = channel_range(c)
        if col.size and (col.min() < lo or col.max() > hi):
            raise TemplateFormatError(f"channel {c} values {col.min()}..{col.max()} are outside "
                                      f"{lo}..{hi}", field=f"sample_points.{c}")
        out[c] = col + 32768 if c in SIGNED else col
    w.raw(out.tobytes())
    if record.extended_data:
        if len(record.extended_data) > 0xFFFF:
            raise TemplateFormatError("extended data longer than 65535 bytes",
                                      field="extended_data_length")
        w.u16(len(record.extended_data), "extended_data_length")
        w.raw(record.extended_data)
    return w.getvalue()


def looks_like(data: bytes) -> bool:
    return bytes(data[:8]) == MAGIC + VERSION
