"""An in-process pyusb backend: a whole USB bus of simulated sensors, no libusb involved.

`usb.core.find(backend=SimBackend(...))` sees four devices with their own descriptors (string
descriptors are answered on GET_DESCRIPTOR control requests like real hardware). Bulk OUT
transfers carry command frames to the device's firmware; bulk IN transfers return its replies.
The backend raises pyusb's own errors (ETIMEDOUT, ENODEV, EBUSY, EPIPE, EOVERFLOW) as libusb
would, and injects the faults of each device's FaultPlan (see faults.py, PROTOCOL.md).
"""
from __future__ import annotations

import array
import errno
import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np
import usb.backend
import usb.core

from . import protocol as p
from .faults import FaultPlan, env_faults
from .firmware import FIRMWARES, Firmware
from .sources import SampleSource, default_source

log = logging.getLogger("biocap_vendor_sim.backend")

VENDOR_ID = 0xB10C
VENDOR_NAME = "Biocap Simulated Sensors"
ENV_SEED = "BIOCAP_SIM_SEED"
SLOW_DELAY_S = 0.8  # how late a slow device answers (longer than a driver's 500 ms timeout)


@dataclass(frozen=True)
class DeviceSpec:
    modality: str
    product_id: int
    product: str
    serial: str
    address: int
    bcd_device: int = 0x0100


SPECS = (
    DeviceSpec("fingerprint", 0x0001, "FS-500 Fingerprint Scanner (single + 4-4-2 slaps)", "FS500-0001", 2),
    DeviceSpec("iris", 0x0002, "IR-2 Dual Iris Camera", "IR2-0001", 3),
    DeviceSpec("face", 0x0003, "FC-1 Face Camera", "FC1-0001", 4),
    DeviceSpec("signature", 0x0004, "SP-1 Signature Pad", "SP1-0001", 5),
)

#: string descriptor indices
I_MANUFACTURER, I_PRODUCT, I_SERIAL, I_INTERFACE = 1, 2, 3, 4
LANGID_EN_US = 0x0409


def _usb_error(message: str, err: int) -> usb.core.USBError:
    codes = {errno.ENODEV: -4, errno.EBUSY: -6, errno.EPIPE: -9, errno.EOVERFLOW: -8,
             errno.EACCES: -3, errno.EINVAL: -2}
    return usb.core.USBError(message, codes.get(err, -99), err)


@dataclass
class SimDevice:
    """One emulated device: descriptors, its firmware, its pending replies, its faults."""

    spec: DeviceSpec
    firmware: Firmware
    faults: FaultPlan
    bus_number: int = 1
    unplugged: bool = False
    transfers: int = 0
    configuration: int = 1
    claimed_by: dict[int, object] = field(default_factory=dict)  # interface -> handle
    replies: deque = field(default_factory=deque)  # (ready_at monotonic, bytes)
    stats: dict[str, int] = field(default_factory=lambda: {"written": 0, "read": 0})

    @property
    def modality(self) -> str:
        return self.spec.modality

    def strings(self) -> dict[int, str]:
        return {I_MANUFACTURER: VENDOR_NAME, I_PRODUCT: self.spec.product,
                I_SERIAL: self.spec.serial, I_INTERFACE: f"{self.spec.modality} capture"}


class _Handle:
    def __init__(self, device: SimDevice):
        self.device = device


class SimBackend(usb.backend.IBackend):
    """The emulated bus. `devices` holds the SimDevice objects (tests inspect and set faults)."""

    def __init__(self, *, seed: int | None = None, faults: dict[str, FaultPlan] | str | None = None,
                 sources: dict[str, SampleSource] | None = None, modalities=None):
        super().__init__()
        if seed is None:
            seed = int(os.environ.get(ENV_SEED, "0") or 0)
        if faults is None:
            faults = env_faults()
        elif isinstance(faults, str):
            from .faults import parse_faults
            faults = parse_faults(faults)
        self.seed = seed
        self._lock = threading.RLock()
        self.handles: set[_Handle] = set()
        self.devices: list[SimDevice] = []
        sources = sources or {}
        for i, spec in enumerate(SPECS):
            if modalities is not None and spec.modality not in modalities:
                continue
            rng = np.random.default_rng([seed, i])
            source = sources.get(spec.modality) or default_source(spec.modality)
            device = SimDevice(spec, None, faults.get(spec.modality, FaultPlan()))  # type: ignore[arg-type]
            device.firmware = FIRMWARES[spec.modality](
                source, rng, spec.serial, fault_hook=self._presentation_hook(device))
            self.devices.append(device)

    # --- control from code (tests, apps) ------------------------------------------------------
    def device(self, modality: str) -> SimDevice:
        for dev in self.devices:
            if dev.modality == modality:
                return dev
        raise KeyError(f"no simulated {modality} device on this bus")

    def set_faults(self, modality: str, faults: FaultPlan | str) -> None:
        """Replace a device's faults, e.g. `set_faults("fingerprint", "unplug@3")`; K counts from
        the device's current transfer count, so the fault lands K transfers from now."""
        plan = FaultPlan.parse_one(faults) if isinstance(faults, str) else faults
        dev = self.device(modality)
        with self._lock:
            for fault in plan.faults:
                fault.at += dev.transfers
            dev.faults = plan

    def claimed_interfaces(self) -> dict[str, list[int]]:
        """Which interfaces are claimed, per modality (empty when nothing is left claimed)."""
        return {d.modality: sorted(d.claimed_by) for d in self.devices if d.claimed_by}

    def open_handle_count(self) -> int:
        return len(self.handles)

    def _presentation_hook(self, device: SimDevice):
        def take(kind: str) -> bool:
            return device.faults.take(kind, device.transfers)
        return take

    def _replug(self, device: SimDevice) -> None:
        device.unplugged = False
        device.replies.clear()
        device.claimed_by.clear()
        device.firmware.reset()

    # --- enumeration and descriptors ----------------------------------------------------------
    def enumerate_devices(self):
        with self._lock:
            return [d for d in self.devices if not d.unplugged]

    def get_parent(self, dev):
        return None

    def get_device_descriptor(self, dev: SimDevice):
        return SimpleNamespace(
            bLength=18, bDescriptorType=1, bcdUSB=0x0200, bDeviceClass=0, bDeviceSubClass=0,
            bDeviceProtocol=0, bMaxPacketSize0=64, idVendor=VENDOR_ID, idProduct=dev.spec.product_id,
            bcdDevice=dev.spec.bcd_device, iManufacturer=I_MANUFACTURER, iProduct=I_PRODUCT,
            iSerialNumber=I_SERIAL, bNumConfigurations=1, bus=dev.bus_number,
            address=dev.spec.address, port_number=dev.spec.address - 1,
            port_numbers=(dev.spec.address - 1,), speed=3)  # 3 = high speed (libusb code)

    def get_configuration_descriptor(self, dev, config):
        if config != 0:
            raise IndexError("configuration index out of range")
        return SimpleNamespace(bLength=9, bDescriptorType=2, wTotalLength=9 + 9 + 7 + 7,
                               bNumInterfaces=1, bConfigurationValue=1, iConfiguration=0,
                               bmAttributes=0x80, bMaxPower=100 // 2, extra_descriptors=[])

    def get_interface_descriptor(self, dev, intf, alt, config):
        if (intf, alt, config) != (0, 0, 0):
            raise IndexError("interface index out of range")
        return SimpleNamespace(bLength=9, bDescriptorType=4, bInterfaceNumber=0, bAlternateSetting=0,
                               bNumEndpoints=2, bInterfaceClass=0xFF, bInterfaceSubClass=0,
                               bInterfaceProtocol=0, iInterface=I_INTERFACE, extra_descriptors=[])

    def get_endpoint_descriptor(self, dev, ep, intf, alt, config):
        if (intf, alt, config) != (0, 0, 0) or ep not in (0, 1):
            raise IndexError("endpoint index out of range")
        address = p.EP_OUT if ep == 0 else p.EP_IN
        return SimpleNamespace(bLength=7, bDescriptorType=5, bEndpointAddress=address,
                               bmAttributes=0x02, wMaxPacketSize=512, bInterval=0, bRefresh=0,
                               bSynchAddress=0, extra_descriptors=[])

    def _descriptor_bytes(self, dev: SimDevice, kind: int, index: int, langid: int) -> bytes:
        if kind == 1:
            d = self.get_device_descriptor(dev)
            return bytes([18, 1, 0x00, 0x02, 0, 0, 0, 64]) + d.idVendor.to_bytes(2, "little") + \
                d.idProduct.to_bytes(2, "little") + d.bcdDevice.to_bytes(2, "little") + \
                bytes([I_MANUFACTURER, I_PRODUCT, I_SERIAL, 1])
        if kind == 2:
            return bytes([9, 2, 32, 0, 1, 1, 0, 0x80, 50,
                          9, 4, 0, 0, 2, 0xFF, 0, 0, I_INTERFACE,
                          7, 5, p.EP_OUT, 2, 0, 2, 0,
                          7, 5, p.EP_IN, 2, 0, 2, 0])
        if kind == 3:
            if index == 0:
                return bytes([4, 3]) + LANGID_EN_US.to_bytes(2, "little")
            text = dev.strings().get(index)
            if text is None or langid != LANGID_EN_US:
                raise _usb_error("string descriptor not available", errno.EPIPE)
            body = text.encode("utf-16-le")
            return bytes([2 + len(body), 3]) + body
        raise _usb_error(f"descriptor type {kind} not supported", errno.EPIPE)

    # --- handles ------------------------------------------------------------------------------
    def open_device(self, dev: SimDevice):
        with self._lock:
            if dev.unplugged:
                raise _usb_error("no such device (it has been disconnected)", errno.ENODEV)
            handle = _Handle(dev)
            self.handles.add(handle)
            return handle

    def close_device(self, handle: _Handle):
        with self._lock:
            self.handles.discard(handle)
            dev = handle.device
            for intf, owner in list(dev.claimed_by.items()):
                if owner is handle:
                    del dev.claimed_by[intf]
            if dev.unplugged and not any(h.device is dev for h in self.handles):
                # the host let go of the dead handle: the device comes back (re-plugged)
                self._replug(dev)

    def _live(self, handle: _Handle) -> SimDevice:
        if handle not in self.handles:
            raise _usb_error("invalid handle", errno.EINVAL)
        if handle.device.unplugged:
            raise _usb_error("no such device (it has been disconnected)", errno.ENODEV)
        return handle.device

    def set_configuration(self, handle, config_value):
        with self._lock:
            dev = self._live(handle)
            if config_value not in (0, 1):
                raise _usb_error(f"no configuration {config_value}", errno.EINVAL)
            dev.configuration = config_value

    def get_configuration(self, handle):
        with self._lock:
            return self._live(handle).configuration

    def set_interface_altsetting(self, handle, intf, altsetting):
        with self._lock:
            self._live(handle)
            if (intf, altsetting) != (0, 0):
                raise _usb_error("no such alternate setting", errno.EINVAL)

    def claim_interface(self, handle, intf):
        with self._lock:
            dev = self._live(handle)
            if intf != 0:
                raise _usb_error(f"no interface {intf}", errno.EINVAL)
            owner = dev.claimed_by.get(intf)
            if owner is not None and owner is not handle:
                raise _usb_error("interface claimed by another handle", errno.EBUSY)
            dev.claimed_by[intf] = handle

    def release_interface(self, handle, intf):
        with self._lock:
            dev = handle.device
            if dev.claimed_by.get(intf) is handle:
                del dev.claimed_by[intf]
            if dev.unplugged:
                raise _usb_error("no such device (it has been disconnected)", errno.ENODEV)

    def clear_halt(self, handle, ep):
        self._live(handle)

    def reset_device(self, handle):
        with self._lock:
            dev = self._live(handle)
            dev.replies.clear()
            dev.firmware.reset()

    def is_kernel_driver_active(self, handle, intf):
        return False

    def detach_kernel_driver(self, handle, intf):
        pass

    def attach_kernel_driver(self, handle, intf):
        pass

    # --- transfers ----------------------------------------------------------------------------
    def _check_claimed(self, dev: SimDevice, handle, intf) -> None:
        if dev.claimed_by.get(intf) is not handle:
            raise _usb_error("interface not claimed by this handle", errno.EBUSY)

    def _transfer_fault(self, dev: SimDevice) -> str | None:
        """Count one transfer and return the transfer fault due on it, if any."""
        dev.transfers += 1
        for kind in ("unplug", "timeout", "busy", "slow"):
            if dev.faults.take(kind, dev.transfers):
                return kind
        # corrupt is taken only when an image-chunk reply is actually sent (bulk_read), so no
        # corruption is ever queued ahead: clearing the faults leaves nothing behind
        return None

    def _begin_transfer(self, handle, intf, ep, expected_ep, what):
        """Checks common to every bulk transfer (under the lock); returns (device, due fault).
        An unplug due on this transfer happens here."""
        dev = self._live(handle)
        self._check_claimed(dev, handle, intf)
        if ep != expected_ep:
            raise _usb_error(f"endpoint {ep:#04x} is not {what}", errno.EPIPE)
        fault = self._transfer_fault(dev)
        if fault == "unplug":
            dev.unplugged = True
            raise _usb_error("no such device (unplugged during the transfer)", errno.ENODEV)
        return dev, fault

    def bulk_write(self, handle, ep, intf, data, timeout):
        with self._lock:
            dev, fault = self._begin_transfer(handle, intf, ep, p.EP_OUT, "bulk OUT")
            command = bytes(data)
            if fault == "timeout":  # the command is lost on the way
                wait_s = timeout / 1000 if timeout else 1.0
            else:
                wait_s = 0.0
                reply = dev.firmware.busy_reply(command) if fault == "busy" else dev.firmware.handle(command)
                delay = SLOW_DELAY_S if fault == "slow" else 0.0
                dev.replies.append((time.monotonic() + delay, reply))
                dev.stats["written"] += len(command)
        if wait_s:
            time.sleep(min(wait_s, 2.0))
            raise usb.core.USBTimeoutError("bulk write timed out", -7, errno.ETIMEDOUT)
        return len(command)

    def bulk_read(self, handle, ep, intf, buff, timeout):
        timeout_s = (timeout / 1000) if timeout else 1.0
        with self._lock:
            dev, fault = self._begin_transfer(handle, intf, ep, p.EP_IN, "bulk IN")
            if fault == "timeout":
                if dev.replies:
                    dev.replies.popleft()  # the reply is lost on the way
                wait_s, reply = timeout_s, None
            else:
                if fault == "slow" and dev.replies:
                    ready_at, queued = dev.replies[0]
                    dev.replies[0] = (max(ready_at, time.monotonic() + SLOW_DELAY_S), queued)
                wait_s, reply = self._next_reply(dev, timeout_s)
            if reply is not None and fault == "busy":
                reply = dev.firmware.busy_reply(reply)
            if reply is not None and reply[3] == p.Op.READ_CHUNK and \
                    dev.faults.take("corrupt", dev.transfers):
                reply = self._corrupt(dev, reply)
        if reply is None:
            time.sleep(min(wait_s, 2.0))
            raise usb.core.USBTimeoutError("bulk read timed out", -7, errno.ETIMEDOUT)
        n = len(reply)
        if n > len(buff) * buff.itemsize:
            raise _usb_error(f"reply of {n} bytes overflows the {len(buff)}-byte buffer", errno.EOVERFLOW)
        memoryview(buff).cast("B")[:n] = reply
        dev.stats["read"] += n
        return n

    def _next_reply(self, dev: SimDevice, timeout_s: float):
        """(0, reply) if one is ready within the timeout, else (seconds to wait, None)."""
        if not dev.replies:
            return timeout_s, None
        ready_at, reply = dev.replies[0]
        late = ready_at - time.monotonic()
        if late > timeout_s:
            return timeout_s, None
        if late > 0:
            time.sleep(late)
        dev.replies.popleft()
        return 0.0, reply

    @staticmethod
    def _corrupt(dev: SimDevice, reply: bytes) -> bytes:
        rng = dev.firmware.rng
        data = bytearray(reply)
        at = int(rng.integers(p.HEADER_SIZE, len(data)))
        data[at] ^= 1 << int(rng.integers(8))
        return bytes(data)

    def intr_write(self, handle, ep, intf, data, timeout):
        raise _usb_error("the simulated sensors have no interrupt endpoints", errno.EPIPE)

    intr_read = intr_write

    def ctrl_transfer(self, handle, bmRequestType, bRequest, wValue, wIndex, data, timeout):
        with self._lock:
            dev = self._live(handle)
            if bmRequestType == 0x80 and bRequest == 0x06:  # GET_DESCRIPTOR
                desc = self._descriptor_bytes(dev, wValue >> 8, wValue & 0xFF, wIndex)
                n = min(len(desc), len(data))
                memoryview(data).cast("B")[:n] = desc[:n]
                return n
            if bmRequestType == 0x80 and bRequest == 0x08:  # GET_CONFIGURATION
                data[0] = dev.configuration
                return 1
            if bmRequestType == 0x80 and bRequest == 0x00:  # GET_STATUS
                data[0:2] = array.array("B", [0, 0])
                return 2
            if bmRequestType == 0x00 and bRequest == 0x09:  # SET_CONFIGURATION
                dev.configuration = wValue
                return 0
            raise _usb_error(f"control request {bmRequestType:#04x}/{bRequest:#04x} stalled", errno.EPIPE)
