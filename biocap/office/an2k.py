"""A bounded, tolerant ANSI/NIST-ITL (traditional encoding) reader with byte offsets, and the
mandatory-field check of the record types biocap writes or reads.

`nistitl` builds biocap's transactions and reads them independently in the tests; this reader is
what biocap itself trusts on input, because nistitl stops at the first oddity of real files (the
repeated tag 2.034 of NIST's `type9-13.an2k`, a tag of another record type inside a record) and
does not give the byte positions the package signature check needs. Every length is checked
against the buffer before use; a malformed transaction raises `TemplateFormatError` naming the
record, the field and the byte offset.
"""
from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field

from ..errors import TemplateFormatError

FS, GS, RS, US = b"\x1c", b"\x1d", b"\x1e", b"\x1f"
BINARY_TYPES = (3, 4, 5, 6, 7, 8)       # fixed binary header records
DATA_TAG = 999                          # the image / binary data field of tagged records
MAX_TRANSACTION = 512 * 1024 * 1024     # refuse anything larger without reading it
MAX_RECORDS = 1000
_TAG = re.compile(rb"^(\d{1,2})\.(\d{1,3}):")


@dataclass
class Field_:
    tag: int
    value: bytes          # raw bytes between "T.NNN:" and the separator
    offset: int           # byte offset of the value in the transaction

    def text(self) -> str:
        return self.value.decode("utf-8", "replace")

    def subfields(self) -> list[list[str]]:
        return [[i.decode("utf-8", "replace") for i in sf.split(US)] for sf in self.value.split(RS)]


@dataclass
class Record:
    type: int
    offset: int
    length: int
    fields: dict[int, Field_] = field(default_factory=dict)  # tagged records (data: tag 999)
    idc: int | None = None
    header: dict[str, int] = field(default_factory=dict)      # binary records' fixed header
    data: bytes = b""                                        # image / binary payload

    def get(self, tag: int, default: str | None = None) -> str | None:
        f = self.fields.get(tag)
        return f.text() if f is not None else default


@dataclass
class Transaction:
    records: list[Record]
    warnings: list[str]

    @property
    def type1(self) -> Record:
        return self.records[0]

    def of_type(self, t: int) -> list[Record]:
        return [r for r in self.records if r.type == t]


def _err(msg: str, *, record: int | None = None, tag: int | None = None, offset: int | None = None):
    where = f"{record}.{tag:03d}" if record is not None and tag is not None else (
        f"Type-{record} record" if record is not None else None)
    return TemplateFormatError(f"ANSI/NIST-ITL: {msg}", field=where, offset=offset,
                               hint="the transaction is malformed; ask the sender for a new one")


def _tagged(data: bytes, offset: int, rtype: int, warnings: list[str], strict: bool) -> Record:
    m = _TAG.match(data[offset:offset + 8])
    if not m or int(m.group(1)) != rtype or int(m.group(2)) != 1:
        raise _err(f"expected field {rtype}.001 (record length)", record=rtype, offset=offset)
    end_len = data.find(GS, offset, offset + 32)
    if end_len < 0:
        raise _err("record length field is not terminated", record=rtype, tag=1, offset=offset)
    try:
        length = int(data[offset + m.end():end_len])
    except ValueError:
        raise _err("record length is not a number", record=rtype, tag=1, offset=offset) from None
    if length < 10 or offset + length > len(data):
        raise _err(f"record length {length} runs past the end of the transaction "
                   f"({len(data) - offset} bytes left)", record=rtype, tag=1, offset=offset)
    if data[offset + length - 1:offset + length] != FS:
        raise _err("record does not end with a file separator where its length says",
                   record=rtype, tag=1, offset=offset + length - 1)
    rec = Record(type=rtype, offset=offset, length=length)
    body_end = offset + length - 1
    pos = offset
    data_marker = f"{rtype}.{DATA_TAG}:".encode()
    while pos < body_end:
        fm = _TAG.match(data[pos:pos + 8])
        if not fm:
            raise _err("field does not start with a tag 'T.NNN:'", record=rtype, offset=pos)
        ftype, tag = int(fm.group(1)), int(fm.group(2))
        vstart = pos + fm.end()
        if data.startswith(data_marker, pos):
            value, nxt = data[vstart:body_end], body_end  # binary data runs to the record's end
        else:
            sep = data.find(GS, vstart, body_end)
            value_end = body_end if sep < 0 else sep
            value, nxt = data[vstart:value_end], value_end + 1
        if ftype != rtype:
            msg = f"field {ftype}.{tag:03d} sits in a Type-{rtype} record at byte {pos}"
            if strict:
                raise _err(msg, record=rtype, offset=pos)
            warnings.append(msg + "; it is ignored")
        elif tag in rec.fields:
            msg = (f"field {rtype}.{tag:03d} appears twice (at bytes {rec.fields[tag].offset} and "
                   f"{vstart}; values {rec.fields[tag].value[:20]!r} and {value[:20]!r})")
            if strict:
                raise _err(msg, record=rtype, tag=tag, offset=vstart)
            warnings.append(msg + "; the first is kept")
        else:
            rec.fields[tag] = Field_(tag, value, vstart)
        pos = nxt
    idc = rec.get(2)
    if rtype != 1:
        if idc is None or not idc.strip().isdigit():
            raise _err("information designation character (IDC) is missing or not a number",
                       record=rtype, tag=2, offset=offset)
        rec.idc = int(idc)
    if DATA_TAG in rec.fields:
        rec.data = rec.fields[DATA_TAG].value
    return rec


_BIN_HEADERS = {
    # type: (struct format after LEN, names)
    3: (">BB6sBHHB", ("idc", "imp", "fgp", "isr", "hll", "vll", "gca")),
    4: (">BB6sBHHB", ("idc", "imp", "fgp", "isr", "hll", "vll", "gca")),
    5: (">BB6sBHHB", ("idc", "imp", "fgp", "isr", "hll", "vll", "gca")),
    6: (">BB6sBHHB", ("idc", "imp", "fgp", "isr", "hll", "vll", "gca")),
    7: (">B", ("idc",)),
    8: (">BBBBHH", ("idc", "sig", "srt", "isr", "hll", "vll")),
}


def _binary(data: bytes, offset: int, rtype: int) -> Record:
    if offset + 5 > len(data):
        raise _err("binary record header runs past the end", record=rtype, offset=offset)
    (length,) = struct.unpack_from(">I", data, offset)
    fmt, names = _BIN_HEADERS[rtype]
    hsize = 4 + struct.calcsize(fmt)
    if length < hsize or offset + length > len(data):
        raise _err(f"binary record length {length} is shorter than its header or runs past the "
                   f"end ({len(data) - offset} bytes left)", record=rtype, offset=offset)
    values = struct.unpack_from(fmt, data, offset + 4)
    header = {}
    for name, v in zip(names, values):
        header[name] = int.from_bytes(v, "big") if isinstance(v, bytes) else int(v)
    if rtype in (3, 4, 5, 6):
        header["fgp"] = values[2][0]  # first finger position byte (255 = unused)
        header["fgp_all"] = [b for b in values[2] if b != 255]
    return Record(type=rtype, offset=offset, length=length, idc=header["idc"], header=header,
                  data=data[offset + hsize:offset + length])


def read_transaction(data: bytes, *, strict: bool = False) -> Transaction:
    """Parse a whole transaction. Tolerant by default: a repeated tag or a field of another
    record type is a warning (first value kept); `strict=True` makes each an error."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise _err(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) > MAX_TRANSACTION:
        raise _err(f"transaction of {len(data)} bytes exceeds the {MAX_TRANSACTION}-byte limit")
    if not data.startswith(b"1.001:"):
        raise _err("not an ANSI/NIST-ITL transaction (it must start with field 1.001)", offset=0)
    warnings: list[str] = []
    t1 = _tagged(data, 0, 1, warnings, strict)
    cnt = t1.fields.get(3)
    if cnt is None:
        raise _err("field 1.003 (transaction content, CNT) is missing", record=1, tag=3)
    entries = cnt.subfields()
    try:
        first = entries[0]
        first_type, declared = int(first[0]), int(first[1])
        listed = [(int(e[0]), int(e[1])) for e in entries[1:]]
    except (IndexError, ValueError):
        raise _err("field 1.003 (CNT) is malformed", record=1, tag=3, offset=cnt.offset) from None
    if first_type != 1 or declared != len(listed):
        msg = f"1.003 declares {declared} records but lists {len(listed)}"
        if strict:
            raise _err(msg, record=1, tag=3, offset=cnt.offset)
        warnings.append(msg)
    if len(listed) > MAX_RECORDS:
        raise _err(f"{len(listed)} records exceed the limit of {MAX_RECORDS}", record=1, tag=3)
    records = [t1]
    offset = t1.length
    for rtype, idc in listed:
        if offset >= len(data):
            raise _err(f"the transaction ends before its Type-{rtype} record (IDC {idc})",
                       record=rtype, offset=offset)
        if rtype in BINARY_TYPES:
            rec = _binary(data, offset, rtype)
        elif 1 < rtype <= 99:
            rec = _tagged(data, offset, rtype, warnings, strict)
        else:
            raise _err(f"record type {rtype} in 1.003 is not a defined type", record=1, tag=3)
        if rec.idc != idc:
            msg = f"Type-{rtype} record at byte {offset} has IDC {rec.idc}, 1.003 lists {idc}"
            if strict:
                raise _err(msg, record=rtype, offset=offset)
            warnings.append(msg)
        records.append(rec)
        offset += rec.length
    if offset != len(data):
        raise _err(f"{len(data) - offset} bytes follow the last record", offset=offset)
    return Transaction(records, warnings)


# --- mandatory fields ------------------------------------------------------------------------------
# ANSI/NIST-ITL 1-2011 mandatory fields of the tagged records biocap writes (traditional encoding);
# the image fields (HLL..BPX/CGA) are mandatory when the record carries an image, as all ours do.
MANDATORY: dict[int, dict[int, str]] = {
    1: {1: "LEN", 2: "VER", 3: "CNT", 4: "TOT", 5: "DAT", 7: "DAI", 8: "ORI", 9: "TCN",
        11: "NSR", 12: "NTR"},
    2: {1: "LEN", 2: "IDC"},
    9: {1: "LEN", 2: "IDC", 3: "IMP", 4: "FMT"},
    10: {1: "LEN", 2: "IDC", 3: "IMT", 4: "SRC", 5: "PHD", 6: "HLL", 7: "VLL", 8: "SLC",
         9: "THPS", 10: "TVPS", 11: "CGA", 12: "CSP", 999: "DATA"},
    13: {1: "LEN", 2: "IDC", 3: "IMP", 4: "SRC", 5: "LCD", 6: "HLL", 7: "VLL", 8: "SLC",
         9: "THPS", 10: "TVPS", 11: "CGA", 12: "BPX", 13: "FGP", 999: "DATA"},
    14: {1: "LEN", 2: "IDC", 3: "IMP", 4: "SRC", 5: "FCD", 6: "HLL", 7: "VLL", 8: "SLC",
         9: "THPS", 10: "TVPS", 11: "CGA", 12: "BPX", 13: "FGP", 999: "DATA"},
    15: {1: "LEN", 2: "IDC", 3: "IMP", 4: "SRC", 5: "PCD", 6: "HLL", 7: "VLL", 8: "SLC",
         9: "THPS", 10: "TVPS", 11: "CGA", 12: "BPX", 13: "FGP", 999: "DATA"},
    17: {1: "LEN", 2: "IDC", 3: "ELR", 4: "SRC", 5: "ICD", 6: "HLL", 7: "VLL", 8: "SLC",
         9: "THPS", 10: "TVPS", 11: "CGA", 12: "BPX", 13: "CSP", 999: "DATA"},
    98: {1: "LEN", 2: "IDC", 3: "DFO", 4: "SRC", 5: "DFT", 6: "DCD"},
}
#: 1-2011 lets older transactions (VER 0300/0400) omit these; only 0500+ must carry them
_SINCE_2011 = {(17, 13), (10, 12)}


def missing_fields(tx: Transaction) -> list[str]:
    """Mandatory fields a transaction lacks, as 'T.NNN MNEMONIC (record IDC i)'."""
    version = (tx.type1.get(2) or "0").strip()
    out = []
    for rec in tx.records:
        need = MANDATORY.get(rec.type)
        if need is None:
            continue
        for tag, name in need.items():
            if (rec.type, tag) in _SINCE_2011 and version < "0500":
                continue
            f = rec.fields.get(tag)
            if f is None or (tag != DATA_TAG and not f.value.strip()) or (tag == DATA_TAG and not f.value):
                out.append(f"{rec.type}.{tag:03d} {name} (Type-{rec.type} record"
                           f"{'' if rec.idc is None else f' IDC {rec.idc}'})")
    return out
