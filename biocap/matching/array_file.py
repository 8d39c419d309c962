"""The file layout both galleries save in: magic, version, a JSON header, then the arrays.

    MAGIC (8 bytes) | uint32 format version | uint32 header length | JSON header | arrays back to back

The header's `arrays` entry lists each array's name, dtype, shape, offset (from the end of the
header), size and CRC-32. `write` replaces the file atomically (a temporary file renamed), so a
crash never leaves a half-written gallery; `read_array` checks one array's entry, bounds and
checksum before using it and raises TemplateFormatError naming the field and offset. Never pickle.
"""
from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np

from ..errors import InvalidDataError, TemplateFormatError


def write(path: str | Path, magic: bytes, version: int, header: dict, arrays: dict[str, np.ndarray]) -> None:
    """Write `header` (with the `arrays` entries added last) and the arrays to `path`."""
    entries, offset = [], 0
    for name, arr in arrays.items():
        entries.append({"name": name, "dtype": arr.dtype.str, "shape": list(arr.shape),
                        "offset": offset, "nbytes": int(arr.nbytes),
                        "crc32": zlib.crc32(arr.tobytes())})
        offset += int(arr.nbytes)
    raw = json.dumps({**header, "arrays": entries}).encode()
    tmp = Path(str(path) + ".tmp")
    with open(tmp, "wb") as f:
        f.write(magic + struct.pack("<II", version, len(raw)) + raw)
        for arr in arrays.values():
            f.write(arr.tobytes())
    tmp.replace(path)  # never leave a half-written gallery under the real name


def read_array(f, path: Path, name: str, e: dict, base: int, size: int, dtype_expected: str) -> np.ndarray:
    """The array an entry `e` describes, read from the open file `f` whose arrays start at `base`
    (`size` bytes long), after checking its type, shape, bounds and checksum."""
    try:
        dtype = np.dtype(e["dtype"])
        shape = tuple(int(x) for x in e["shape"])
        offset, nbytes, crc = int(e["offset"]), int(e["nbytes"]), int(e["crc32"])
    except (KeyError, TypeError, ValueError) as exc:
        raise TemplateFormatError(f"{path}: entry of array {name!r} is corrupt ({exc})", field=name) from exc
    if dtype.str != np.dtype(dtype_expected).str or any(s < 0 for s in shape):
        raise TemplateFormatError(f"{path}: array {name!r} has type {dtype.str} shape {shape}",
                                  field=name)
    if int(np.prod(shape, dtype=np.int64)) * dtype.itemsize != nbytes or offset < 0 \
            or base + offset + nbytes > size:
        raise TemplateFormatError(f"{path}: array {name!r} does not fit in the file; it is truncated "
                                  "or corrupt", field=name, offset=base + offset)
    f.seek(base + offset)
    data = f.read(nbytes)
    if len(data) != nbytes or zlib.crc32(data) != crc:
        raise TemplateFormatError(f"{path}: array {name!r} fails its checksum; the file is corrupt",
                                  field=name, offset=base + offset)
    return np.frombuffer(data, dtype).reshape(shape).copy()


def open_file(path: Path, magic: bytes, readable: tuple[int, ...], kind: str, max_header: int):
    """Open a gallery file and check its magic, version and header length: (open file, file size,
    format version, header length); the file is positioned at the header. `kind` names the file
    in messages ("fingerprint gallery")."""
    try:
        size = path.stat().st_size
        f = open(path, "rb")
    except OSError as exc:
        raise InvalidDataError(f"cannot open {kind} file {path}: {exc}") from exc
    try:
        head = f.read(16)
        if len(head) < 16 or head[:8] != magic:
            raise TemplateFormatError(f"{path} is not a biocap {kind} file", field="magic", offset=0)
        version, hlen = struct.unpack("<II", head[8:16])
        if version not in readable:
            newer = version > max(readable)
            raise TemplateFormatError(
                f"{path} is {kind} format version {version}; this biocap reads versions "
                f"{', '.join(map(str, readable))}", field="format_version", offset=8,
                hint="upgrade biocap to read it" if newer else
                "re-enrol from the templates: no converter exists for that old version")
        if hlen > min(max_header, size - 16):
            raise TemplateFormatError(f"{path}: header length {hlen} is impossible (file has {size} "
                                      "bytes); the file is truncated or corrupt", field="header_length", offset=12)
    except BaseException:
        f.close()
        raise
    return f, size, version, hlen
