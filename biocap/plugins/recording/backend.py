"""A pyusb backend that plays the recorded device, transfer by transfer, on a bus of its own.

Matching follows causality, strictly:
- what the host initiates (OUT transfers and control requests) must come in recorded order, each
  of the same type and endpoint, an OUT with the same bytes; anything else is a RecordingMismatch
  naming the transfer's index and showing expected and actual bytes;
- IN transfers answer with the recorded bytes, in recorded order per endpoint, and only once every
  host transfer recorded before them was re-issued (a device answers what it was asked). So a
  driver that submits a read before writing the commands the device needs (asynchronous style,
  as the AES3500 recording shows) and a synchronous driver that writes first both replay.
A recorded transfer that was cancelled (its timeout ran out) answers with a timeout. An IN that is
not due yet, or any transfer once the recording is used up, finds the device quiet: it times out
after its own timeout, never later.
"""
from __future__ import annotations

import array
import errno
import threading
import time
from types import SimpleNamespace

import usb.backend
import usb.core

from .descriptors import (CONFIGURATION, DEVICE, STRING, parse_descriptors, string_descriptor,
                          strings_for)
from .model import (BULK, CONTROL, INTERRUPT, KIND_NAMES, RecordedTransfer, Recording,
                    RecordingMismatch, RecordingNotConsumed)

#: a transfer with timeout 0 (pyusb: wait forever) on a quiet device ends after this many seconds
QUIET_CAP_S = 5.0
LIBUSB_ERROR_TIMEOUT, LIBUSB_ERROR_NO_DEVICE, LIBUSB_ERROR_PIPE, LIBUSB_ERROR_IO = -7, -4, -9, -1
SPEEDS = {1.5: 1, 12: 2, 480: 3, 5000: 4, 10000: 5}  # Mbit/s -> pyusb SPEED_* constant


def _hex(data: bytes, around: int = 0, span: int = 48) -> str:
    start = max(0, min(around - span // 2, len(data) - span))
    shown = data[start:start + span].hex(" ")
    return ("... " if start else "") + shown + (" ..." if start + span < len(data) else "")


def _timeout_error(what: str) -> usb.core.USBTimeoutError:
    return usb.core.USBTimeoutError(f"{what}: timed out", LIBUSB_ERROR_TIMEOUT, errno.ETIMEDOUT)


class ReplayBackend(usb.backend.IBackend):
    """Replays one `Recording`. Thread-safe; one device; `rewind()` starts the session again."""

    def __init__(self, recording: Recording, *, quiet_cap_s: float = QUIET_CAP_S):
        super().__init__()
        self.recording = recording
        self.transfers = recording.transfers
        self.descriptors = parse_descriptors(recording.device.descriptors)
        self.strings = strings_for(recording.device, self.descriptors.device)
        self.quiet_cap_s = quiet_cap_s
        self.claimed: set[int] = set()
        self.open_handles = 0
        self._configuration: int | None = None
        self._lock = threading.Lock()
        self._dev = SimpleNamespace(recording=recording.source)
        # host-initiated transfers in order, and the device's answers queued per endpoint
        self._host = [i for i, t in enumerate(self.transfers) if t.kind == CONTROL or not t.is_in]
        self._answers: dict[int, list[int]] = {}
        for i, t in enumerate(self.transfers):
            if t.kind != CONTROL and t.is_in:
                self._answers.setdefault(t.endpoint, []).append(i)
        self.rewind()

    # --- progress ---------------------------------------------------------------------------
    def rewind(self) -> None:
        """Start the recorded session again (a replugged device)."""
        with self._lock:
            self._host_next = 0
            self._answer_next = {ep: 0 for ep in self._answers}
            self._done = [False] * len(self.transfers)
            self.claimed.clear()
            self._configuration = None

    @property
    def position(self) -> int:
        """Index of the first recorded transfer not re-issued yet."""
        return next((i for i, done in enumerate(self._done) if not done), len(self._done))

    def remaining(self) -> list[tuple[int, RecordedTransfer]]:
        """Recorded transfers not re-issued yet, apart from those cancelled at the end of their
        queue (pending when the driver closed: not traffic it owes the device)."""
        excused: set[int] = set()
        for queue in [self._host, *self._answers.values()]:
            for i in reversed(queue):
                if self._done[i] or not self.transfers[i].cancelled:
                    break
                excused.add(i)
        return [(i, t) for i, t in enumerate(self.transfers)
                if not self._done[i] and i not in excused]

    @property
    def consumed(self) -> bool:
        return not self.remaining()

    def assert_consumed(self) -> None:
        """Fail when the recording holds transfers the driver never made."""
        rest = self.remaining()
        if rest:
            shown = "; ".join(f"#{i} {t.describe()} ({t.source})" for i, t in rest[:3])
            raise RecordingNotConsumed(
                f"{len(rest)} recorded transfer(s) were never re-issued, from #{rest[0][0]} of "
                f"{len(self.transfers)}: {shown}")

    # --- enumeration and descriptors --------------------------------------------------------
    def enumerate_devices(self):
        yield self._dev

    def get_parent(self, dev):
        return None

    def get_device_descriptor(self, dev):
        d = SimpleNamespace(**vars(self.descriptors.device))
        rec = self.recording.device
        d.bus, d.address = rec.busnum, rec.devnum
        d.port_number, d.port_numbers = None, None
        d.speed = SPEEDS.get(rec.speed_mbps, 0) if rec.speed_mbps else 0
        return d

    def _config(self, config: int):
        try:
            return self.descriptors.configurations[config]
        except IndexError:
            raise IndexError(f"configuration index {config} does not exist") from None

    def get_configuration_descriptor(self, dev, config):
        return self._config(config).desc

    def get_interface_descriptor(self, dev, intf, alt, config):
        return self._config(config).interfaces[intf][alt][0]

    def get_endpoint_descriptor(self, dev, ep, intf, alt, config):
        return self._config(config).interfaces[intf][alt][1][ep]

    # --- handles ----------------------------------------------------------------------------
    def open_device(self, dev):
        with self._lock:
            self.open_handles += 1
        return SimpleNamespace(dev=dev)

    def close_device(self, dev_handle):
        with self._lock:
            self.open_handles = max(0, self.open_handles - 1)

    def set_configuration(self, dev_handle, config_value):
        values = [c.desc.bConfigurationValue for c in self.descriptors.configurations]
        if config_value not in values and config_value not in (0, -1):
            raise usb.core.USBError(f"configuration {config_value} does not exist",
                                    LIBUSB_ERROR_PIPE, errno.EPIPE)
        self._configuration = values[0] if config_value == -1 else config_value

    def get_configuration(self, dev_handle):
        # the kernel configures a device on enumeration: the first configuration is active
        if self._configuration is None:
            return self.descriptors.configurations[0].desc.bConfigurationValue
        return self._configuration

    def set_interface_altsetting(self, dev_handle, intf, altsetting):
        pass

    def claim_interface(self, dev_handle, intf):
        with self._lock:
            self.claimed.add(intf)

    def release_interface(self, dev_handle, intf):
        with self._lock:
            self.claimed.discard(intf)

    def clear_halt(self, dev_handle, ep):
        pass

    def reset_device(self, dev_handle):
        pass

    def is_kernel_driver_active(self, dev_handle, intf):
        return False

    def detach_kernel_driver(self, dev_handle, intf):
        pass

    def attach_kernel_driver(self, dev_handle, intf):
        pass

    # --- transfers --------------------------------------------------------------------------
    def bulk_write(self, dev_handle, ep, intf, data, timeout):
        return self._out(BULK, ep, bytes(data), timeout)

    def intr_write(self, dev_handle, ep, intf, data, timeout):
        return self._out(INTERRUPT, ep, bytes(data), timeout)

    def bulk_read(self, dev_handle, ep, intf, buff, timeout):
        return self._in(BULK, ep, buff, timeout)

    def intr_read(self, dev_handle, ep, intf, buff, timeout):
        return self._in(INTERRUPT, ep, buff, timeout)

    def ctrl_transfer(self, dev_handle, bmRequestType, bRequest, wValue, wIndex, data, timeout):
        is_in = bool(bmRequestType & 0x80)
        standard = self._standard_request(bmRequestType, bRequest, wValue, wIndex, len(data))
        if standard is not None:
            n = min(len(standard), len(data))
            data[:n] = _as_array(standard[:n], data)
            return n
        what = (f"control {'IN' if is_in else 'OUT'} (bmRequestType={bmRequestType:#04x} "
                f"bRequest={bRequest:#04x} wValue={wValue:#06x} wIndex={wIndex:#06x})")
        with self._lock:
            index, rec = self._take_host(CONTROL, 0x80 if is_in else 0x00, what)
            if rec is not None:
                s = rec.setup
                got = (bmRequestType, bRequest, wValue, wIndex)
                if s is None or (s.request_type, s.request, s.value, s.index) != got:
                    raise RecordingMismatch(
                        f"recorded transfer #{index} ({rec.source}) is {rec.describe()}, the "
                        f"driver sent {what}", index=index)
                if not is_in:
                    self._compare(index, rec, bytes(data))
                self._consume_host(index)
        if rec is None or rec.status:
            return self._quiet_or_fail(rec, what, timeout)
        if is_in:
            n = min(len(rec.data), len(data))
            if len(rec.data) > len(data):
                raise usb.core.USBError(f"{what}: the device sent {len(rec.data)} bytes into a "
                                        f"{len(data)}-byte buffer", -8, errno.EOVERFLOW)
            data[:n] = _as_array(rec.data[:n], data)
            return n
        return len(data)

    def _standard_request(self, request_type, request, value, index, length) -> bytes | None:
        """GET_DESCRIPTOR and GET_STATUS to the device are answered from the descriptors."""
        if request_type == 0x80 and request == 0x06:
            kind, number = value >> 8, value & 0xFF
            if kind == DEVICE:
                return self.descriptors.raw_device
            if kind == CONFIGURATION:
                return self._config(number).raw
            if kind == STRING:
                if number == 0:
                    return bytes([4, STRING, 0x09, 0x04])  # US English only
                if number in self.strings:
                    return string_descriptor(self.strings[number])
            raise usb.core.USBError(f"descriptor type {kind} index {number} is not available "
                                    "(the device stalls)", LIBUSB_ERROR_PIPE, errno.EPIPE)
        if request_type == 0x80 and request == 0x00:
            return b"\x00\x00"
        return None

    def _out(self, kind: int, ep: int, data: bytes, timeout: int) -> int:
        what = f"{KIND_NAMES[kind]} OUT of {len(data)} bytes on endpoint {ep:#04x}"
        with self._lock:
            index, rec = self._take_host(kind, ep, what)
            if rec is not None:
                self._compare(index, rec, data)
                self._consume_host(index)
        if rec is None or rec.status:
            return self._quiet_or_fail(rec, what, timeout)
        return len(data)

    def _in(self, kind: int, ep: int, buff, timeout: int) -> int:
        what = f"{KIND_NAMES[kind]} IN of up to {len(buff)} bytes on endpoint {ep:#04x}"
        with self._lock:
            index, rec = self._take_answer(kind, ep, what)
            if rec is not None:
                self._answer_next[ep] += 1
                self._done[index] = True
        if rec is None or rec.status:
            return self._quiet_or_fail(rec, what, timeout)
        if len(rec.data) > len(buff):
            raise usb.core.USBError(f"recorded transfer #{index}: the device sent "
                                    f"{len(rec.data)} bytes, the driver's buffer holds {len(buff)}",
                                    -8, errno.EOVERFLOW)
        buff[:len(rec.data)] = _as_array(rec.data, buff)
        return len(rec.data)

    def _take_host(self, kind: int, ep: int, what: str) -> tuple[int, RecordedTransfer | None]:
        """The next recorded host transfer, which must be this one; None once exhausted.
        Called with the lock held."""
        if self._host_next >= len(self._host):
            return len(self.transfers), None
        index = self._host[self._host_next]
        rec = self.transfers[index]
        if rec.kind != kind or rec.endpoint != ep:
            raise RecordingMismatch(
                f"recorded transfer #{index} ({rec.source}) is {rec.describe()}, the driver "
                f"issued a {what}", index=index)
        return index, rec

    def _consume_host(self, index: int) -> None:
        self._host_next += 1
        self._done[index] = True

    def _take_answer(self, kind: int, ep: int, what: str) -> tuple[int, RecordedTransfer | None]:
        """The device's next answer on `ep` if it is due; None while the device has nothing to
        say (its answer waits for a host transfer recorded before it, or the queue is empty)."""
        queue = self._answers.get(ep, [])
        at = self._answer_next.get(ep, 0)
        if at >= len(queue):
            return len(self.transfers), None
        index = queue[at]
        rec = self.transfers[index]
        if rec.kind != kind:
            raise RecordingMismatch(
                f"recorded transfer #{index} ({rec.source}) is {rec.describe()}, the driver "
                f"issued a {what}", index=index)
        pending_host = (self._host[self._host_next] if self._host_next < len(self._host)
                        else len(self.transfers))
        if pending_host < index:
            return index, None  # the device is still waiting for host transfer #pending_host
        return index, rec

    @staticmethod
    def _compare(index: int, rec: RecordedTransfer, actual: bytes) -> None:
        if actual == rec.data:
            return
        diff = next((i for i, (a, b) in enumerate(zip(actual, rec.data)) if a != b),
                    min(len(actual), len(rec.data)))
        raise RecordingMismatch(
            f"recorded transfer #{index} ({rec.source}): the driver sent different bytes, first "
            f"difference at byte {diff}\n  expected ({len(rec.data)} bytes): {_hex(rec.data, diff)}"
            f"\n  actual   ({len(actual)} bytes): {_hex(actual, diff)}",
            index=index, expected=rec.data, actual=actual)

    def _quiet_or_fail(self, rec: RecordedTransfer | None, what: str, timeout: int) -> int:
        """Exhausted recording or a recorded timeout: wait out the timeout, then time out.
        A recorded failure (stall, unplug...) is raised as the same USB error."""
        if rec is not None and not rec.cancelled:
            code = {-32: LIBUSB_ERROR_PIPE, -19: LIBUSB_ERROR_NO_DEVICE,
                    -108: LIBUSB_ERROR_NO_DEVICE}.get(rec.status, LIBUSB_ERROR_IO)
            err = {-108: errno.ENODEV}.get(rec.status, -rec.status)
            raise usb.core.USBError(f"{what}: recorded status {rec.status}", code, err)
        wait = self.quiet_cap_s if not timeout or timeout <= 0 else min(timeout / 1000.0,
                                                                        self.quiet_cap_s)
        time.sleep(wait)
        raise _timeout_error(what)


def _as_array(data: bytes, like):
    """`data` in the buffer type pyusb handed us (array.array of bytes)."""
    if isinstance(like, array.array):
        return array.array(like.typecode, data)
    return data
