"""The gallery file container both galleries write: a JSON header and raw arrays, every byte
covered by one SHA-256, read back with strict checks (issue 17: an edited, renamed or overflowing
header field is a clean TemplateFormatError, never a silent default or a Python error).

Layout (little-endian): magic (8 bytes), format version u32, header length u32, the header (UTF-8
JSON object; its "arrays" list names each array's dtype, shape, offset, byte count and CRC-32),
the arrays back to back, then SHA-256 of everything before it (32 bytes). The digest is checked
before the header is parsed. It detects damage and edits, not a forger who recomputes it (that
needs a keyed MAC: the office store's keys).

    write_container(path, MAGIC, 3, header_dict, {"codes": arr, ...})
    version, header, arrays = read_container(path, MAGIC, readable=(2, 3), checksummed_from=3,
                                             arrays={"codes": ("|u1", 256)}, what="iris gallery")
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidDataError, TemplateFormatError

DIGEST_BYTES = 32
#: a header larger than this is refused before it is read
MAX_HEADER_BYTES = 1 << 20
_READ_CHUNK = 1 << 20


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number a gallery header may hold")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]} overflows")
    return value


def parse_header(raw: bytes) -> dict:
    """Strict JSON: an object, finite numbers only (no NaN/Infinity, no 1e400)."""
    obj = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant, parse_float=_finite_float)
    if not isinstance(obj, dict):
        raise ValueError("the header is not a JSON object")
    return obj


def write_container(path: str | Path, magic: bytes, version: int, header: dict[str, Any],
                    arrays: dict[str, np.ndarray]) -> None:
    """Write atomically (a temporary file renamed over `path`), owner-only permissions (0600)."""
    arrays = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    entries, offset = [], 0
    for name, arr in arrays.items():
        entries.append({"name": name, "dtype": arr.dtype.str, "shape": list(arr.shape),
                        "offset": offset, "nbytes": int(arr.nbytes), "crc32": zlib.crc32(arr)})
        offset += int(arr.nbytes)
    raw = json.dumps({**header, "arrays": entries}, allow_nan=False).encode()
    if len(raw) > MAX_HEADER_BYTES:
        raise InvalidDataError(f"gallery header of {len(raw)} bytes exceeds {MAX_HEADER_BYTES}")
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    digest = hashlib.sha256()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        for part in [magic + struct.pack("<II", version, len(raw)) + raw, *arrays.values()]:
            buf = memoryview(part).cast("B") if isinstance(part, np.ndarray) else part
            digest.update(buf)
            f.write(buf)
        f.write(digest.digest())
    tmp.replace(path)


def _fail(path: Path, what: str, message: str, *, field: str | None = None,
          offset: int | None = None, hint: str | None = None) -> TemplateFormatError:
    return TemplateFormatError(f"{path}: {message}", field=field, offset=offset,
                               hint=hint or f"the {what} file is damaged or was edited; restore it "
                                            "from a backup or rebuild it from the templates")


def read_container(path: str | Path, magic: bytes, *, readable: tuple[int, ...],
                   checksummed_from: int, arrays: dict[str, tuple[str, tuple[int, ...] | None]],
                   what: str, optional: tuple[str, ...] = ()) -> tuple[int, dict, dict[str, np.ndarray]]:
    """(version, header, arrays). `arrays` maps each array name to (dtype, trailing shape): a
    tuple of the dimensions after the first (() for 1-D) or None for any; every one must be
    present (except `optional`), nothing else is read. Versions before
    `checksummed_from` have no digest (older files) and are read with the same strict checks."""
    path = Path(path)
    try:
        size = path.stat().st_size
        f = open(path, "rb")
    except OSError as exc:
        raise InvalidDataError(f"cannot open {what} file {path}: {exc}") from exc
    with f:
        head = f.read(16)
        if len(head) < 16 or head[:8] != magic:
            raise _fail(path, what, f"not a biocap {what} file", field="magic", offset=0)
        version, hlen = struct.unpack("<II", head[8:16])
        if version not in readable:
            newer = version > max(readable)
            raise _fail(path, what, f"{what} format version {version}; this biocap reads versions "
                        f"{', '.join(map(str, readable))}", field="format_version", offset=8,
                        hint="upgrade biocap to read it" if newer else "re-enrol from the templates")
        trailer = DIGEST_BYTES if version >= checksummed_from else 0
        end = size - trailer
        if hlen > min(MAX_HEADER_BYTES, end - 16):
            raise _fail(path, what, f"header length {hlen} is impossible (file has {size} bytes)",
                        field="header_length", offset=12)
        if trailer:
            digest = hashlib.sha256()
            f.seek(0)
            left = end
            while left:
                chunk = f.read(min(_READ_CHUNK, left))
                if not chunk:
                    break
                digest.update(chunk)
                left -= len(chunk)
            if digest.digest() != f.read(DIGEST_BYTES):
                raise _fail(path, what, "fails its SHA-256 checksum over the header and arrays: the file "
                            "is corrupt, truncated or was edited",
                            field="sha256", offset=end)
        f.seek(16)
        try:
            header = parse_header(f.read(hlen))
            entries = header["arrays"]
            if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
                raise ValueError("'arrays' is not a list of objects")
            by_name = {e.get("name"): e for e in entries}
        except (ValueError, KeyError, TypeError, UnicodeDecodeError, RecursionError) as exc:
            raise _fail(path, what, f"the header is corrupt ({type(exc).__name__}: {exc})",
                        field="header", offset=16) from None
        base = 16 + hlen
        out = {}
        for name, (dtype, tail) in arrays.items():
            e = by_name.get(name)
            if e is None:
                if name in optional:
                    continue
                raise _fail(path, what, f"array {name!r} is missing", field=name)
            out[name] = _read_array(f, path, what, name, e, base, end, dtype, tail)
    return version, header, out


def _int(value: Any) -> int:
    if type(value) is not int:
        raise ValueError(f"{value!r} is not a whole number")
    return value


def _read_array(f, path: Path, what: str, name: str, e: dict, base: int, end: int, dtype: str,
                tail: tuple[int, ...] | None) -> np.ndarray:
    try:
        shape = tuple(_int(x) for x in e["shape"])
        offset, nbytes, crc = _int(e["offset"]), _int(e["nbytes"]), _int(e["crc32"])
        ok_dtype = isinstance(e["dtype"], str) and np.dtype(e["dtype"]).str == np.dtype(dtype).str
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise _fail(path, what, f"entry of array {name!r} is corrupt ({exc})", field=name) from None
    if not ok_dtype or not shape or any(x < 0 for x in shape) or len(shape) > 4 \
            or (tail is not None and shape[1:] != tuple(tail)):
        raise _fail(path, what, f"array {name!r} has type {e.get('dtype')!r} shape {shape}", field=name)
    itemsize = np.dtype(dtype).itemsize
    if math.prod(shape) * itemsize != nbytes or offset < 0 or nbytes > end or \
            base + offset + nbytes > end:
        raise _fail(path, what, f"array {name!r} does not fit in the file", field=name,
                    offset=base + offset if offset >= 0 else None)
    f.seek(base + offset)
    data = f.read(nbytes)
    if len(data) != nbytes or zlib.crc32(data) != crc:
        raise _fail(path, what, f"array {name!r} fails its CRC-32", field=name, offset=base + offset)
    return np.frombuffer(data, dtype).reshape(shape).copy()


def check_fields(path: str | Path, what: str, section: str, values: Any,
                 expected: dict[str, Any]) -> dict[str, Any]:
    """`values` must be an object with exactly the keys of `expected` (a renamed or added key is
    an error, never a default), each of the type of its expected example (int, float, bool, str),
    numbers finite. Returns the values."""
    if not isinstance(values, dict):
        raise _fail(Path(path), what, f"{section} is not an object", field=section)
    missing = sorted(set(expected) - set(values))
    extra = sorted(set(values) - set(expected))
    if missing or extra:
        raise _fail(Path(path), what, f"{section}: missing {missing or 'nothing'}, unknown "
                    f"{extra or 'nothing'}", field=section)
    for key, example in expected.items():
        value = values[key]
        kind = type(example)
        if kind is float:
            ok = type(value) in (int, float) and math.isfinite(value)
        else:
            ok = type(value) is kind
        if not ok:
            raise _fail(Path(path), what, f"{section}.{key} = {value!r} is not a {kind.__name__}",
                        field=f"{section}.{key}")
    return values
