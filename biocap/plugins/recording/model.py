"""What a recording holds: the device's descriptors and the ordered list of its transfers."""
from __future__ import annotations

from dataclasses import dataclass, field

from ...errors import InvalidDataError, ProtocolError

#: usbdevfs / usbmon transfer types
ISO, INTERRUPT, CONTROL, BULK = 0, 1, 2, 3
KIND_NAMES = {ISO: "isochronous", INTERRUPT: "interrupt", CONTROL: "control", BULK: "bulk"}

#: URB status of a transfer the host cancelled (its timeout ran out, or the driver closed)
STATUS_CANCELLED = -2
#: URB status of a transfer that timed out
STATUS_TIMED_OUT = -110

#: (bmRequestType, bRequest) of standard requests that are not the driver's protocol: the host's
#: enumeration (GET_DESCRIPTOR) and what pyusb does through dedicated backend calls
#: (SET_CONFIGURATION, SET_INTERFACE). The replay answers these from the descriptors.
HOST_REQUESTS = frozenset({(0x80, 0x06), (0x00, 0x09), (0x01, 0x0B)})


class RecordingFormatError(InvalidDataError):
    """A recording file is missing, truncated or not in the expected format."""

    hint = ("pass a folder holding a umockdev `device` file and a `*.ioctl` or usbmon `*.pcapng` "
            "capture of the same device")


class RecordingMismatch(ProtocolError):
    """The driver sent something the recorded device never received at that point."""

    hint = "the driver does not speak the protocol the way the recorded session did"

    def __init__(self, message: str, *, index: int, expected: bytes | None = None,
                 actual: bytes | None = None):
        super().__init__(message)
        self.index = index
        self.expected = expected
        self.actual = actual


class RecordingNotConsumed(ProtocolError):
    """The session ended with recorded transfers the driver never re-issued."""

    hint = "the driver stopped before doing everything the recorded session did"


@dataclass(frozen=True)
class Setup:
    """The 8-byte SETUP packet of a control transfer."""

    request_type: int
    request: int
    value: int
    index: int
    length: int

    @classmethod
    def from_bytes(cls, raw: bytes) -> "Setup":
        if len(raw) < 8:
            raise RecordingFormatError(f"a control transfer's setup packet has {len(raw)} bytes, "
                                       "8 are needed")
        return cls(raw[0], raw[1], int.from_bytes(raw[2:4], "little"),
                   int.from_bytes(raw[4:6], "little"), int.from_bytes(raw[6:8], "little"))

    @property
    def is_in(self) -> bool:
        return bool(self.request_type & 0x80)

    def describe(self) -> str:
        return (f"bmRequestType={self.request_type:#04x} bRequest={self.request:#04x} "
                f"wValue={self.value:#06x} wIndex={self.index:#06x} wLength={self.length}")


@dataclass(frozen=True)
class RecordedTransfer:
    """One completed transfer of the recorded session, in the order the host saw it complete."""

    kind: int                 # INTERRUPT, CONTROL or BULK
    endpoint: int             # address with the direction bit (0x00 / 0x80 for control)
    data: bytes               # OUT: what the host sent; IN: what the device answered
    status: int = 0           # 0, or a negative errno (-2 cancelled, -110 timed out, -32 stall...)
    requested: int = 0        # IN: the buffer length the host asked for
    setup: Setup | None = None
    source: str = ""          # where it was read from, for messages ("capture.ioctl line 7")

    @property
    def is_in(self) -> bool:
        if self.kind == CONTROL and self.setup is not None:
            return self.setup.is_in
        return bool(self.endpoint & 0x80)

    @property
    def cancelled(self) -> bool:
        return self.status in (STATUS_CANCELLED, STATUS_TIMED_OUT)

    def describe(self) -> str:
        """One line naming the transfer: index, type, endpoint, length."""
        direction = "IN" if self.is_in else "OUT"
        what = f"{KIND_NAMES.get(self.kind, self.kind)} {direction}"
        if self.kind == CONTROL and self.setup is not None:
            what += f" ({self.setup.describe()})"
        else:
            what += f" on endpoint {self.endpoint:#04x}"
        if self.is_in:
            what += f", {len(self.data)} bytes answered"
        else:
            what += f" of {len(self.data)} bytes"
        if self.status:
            what += f", status {self.status}"
        return what


@dataclass
class DeviceRecord:
    """The recorded device: raw descriptors, place on the bus, and udev properties."""

    descriptors: bytes
    busnum: int
    devnum: int
    properties: dict[str, str] = field(default_factory=dict)   # E: lines
    attributes: dict[str, str] = field(default_factory=dict)   # A: lines
    speed_mbps: float | None = None


@dataclass
class Recording:
    device: DeviceRecord
    transfers: list[RecordedTransfer]
    source: str
