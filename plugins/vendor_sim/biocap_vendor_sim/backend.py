"""An in-process pyusb backend: a whole USB bus of simulated sensors, no libusb involved.

`usb.core.find(backend=SimBackend(...))` sees four devices with their own descriptors (string
descriptors are answered on GET_DESCRIPTOR control requests like real hardware). Bulk OUT
transfers carry command frames to the device's firmware; bulk IN transfers return its replies.
The backend raises pyusb's own errors (ETIMEDOUT, EBUSY, EPIPE, EOVERFLOW) as libusb would.
Faults are not the emulator's business: `SimBackend` is biocap's one fault-injecting bus
(`biocap.plugins.faultbus.FaultBus`, the same the conformance kit uses) around the emulated
devices, with each device's FaultPlan and the protocol's notion of a frame and a busy reply
(see faults.py, PROTOCOL.md).
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

from biocap.plugins.faultbus import FaultBus, FrameProtocol, usb_error

from . import protocol as p
from .faults import PLAN_KINDS, FaultPlan, env_faults, parse_faults
from .firmware import FIRMWARES, Firmware
from .sources import SampleSource, default_source

log = logging.getLogger("biocap_vendor_sim.backend")

VENDOR_ID = 0xB10C
VENDOR_NAME = "Biocap Simulated Sensors"
ENV_SEED = "BIOCAP_SIM_SEED"


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


_usb_error = usb_error


@dataclass
class SimDevice:
    """One emulated device: descriptors, its firmware, its pending replies, its fault plan (which
    the fault bus around the emulator acts on)."""

    spec: DeviceSpec
    firmware: Firmware
    faults: FaultPlan
    bus_number: int = 1
    configuration: int = 1
    claimed_by: dict[int, object] = field(default_factory=dict)  # interface -> handle
    replies: deque = field(default_factory=deque)  # reply frames, in order
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


class SimFrames(FrameProtocol):
    """PROTOCOL.md for the fault bus: image-chunk replies are the frames a corruption or a cut
    hits (the header stays intact), bits flip by the device's seeded generator, and a busy
    firmware answers with a BUSY status frame."""

    def is_frame(self, dev: SimDevice, data: bytes) -> bool:
        return len(data) > 3 and data[3] == p.Op.READ_CHUNK

    def rng(self, dev: SimDevice) -> np.random.Generator:
        return dev.firmware.rng

    def corrupt_from(self, dev: SimDevice, data: bytes) -> int:
        return p.HEADER_SIZE

    def busy_reply(self, dev: SimDevice, data: bytes, *, command: bool) -> bytes:
        return dev.firmware.busy_reply(data)


class SimBackend(FaultBus):
    """The emulated bus behind biocap's fault bus. `devices` holds the SimDevice objects (tests
    inspect them and set their faults)."""

    def __init__(self, *, seed: int | None = None, faults: dict[str, FaultPlan] | str | None = None,
                 sources: dict[str, SampleSource] | None = None, modalities=None):
        if seed is None:
            seed = int(os.environ.get(ENV_SEED, "0") or 0)
        if faults is None:
            faults = env_faults()
        elif isinstance(faults, str):
            faults = parse_faults(faults)
        self.emulator = EmulatedBus(seed=seed, sources=sources, modalities=modalities,
                                    fault_hook=self._presentation_hook)
        super().__init__(self.emulator, protocol=SimFrames(), replug_on_close=True)
        self.seed = seed
        for device in self.devices:
            self.set_faults(device.modality, faults.get(device.modality, FaultPlan()))

    @property
    def devices(self) -> list[SimDevice]:
        return self.emulator.devices

    # --- control from code (tests, apps) ------------------------------------------------------
    def device(self, modality: str) -> SimDevice:
        for dev in self.devices:
            if dev.modality == modality:
                return dev
        raise KeyError(f"no simulated {modality} device on this bus")

    def set_faults(self, modality, faults: FaultPlan | str, **options) -> FaultPlan:
        """Replace a device's faults, e.g. `set_faults("fingerprint", "unplug@3")`; K counts from
        the device's current transfer count, so the fault lands K transfers from now."""
        if modality is None or isinstance(modality, SimDevice):  # the fault bus's own form
            return super().set_faults(modality, faults, **options)
        dev = self.device(modality)
        plan = super().set_faults(dev, faults, kinds=PLAN_KINDS, **options)
        dev.faults = plan
        return plan

    def claimed_interfaces(self) -> dict[str, list[int]]:  # type: ignore[override]
        """Which interfaces are claimed, per modality (empty when nothing is left claimed)."""
        return {d.modality: sorted(d.claimed_by) for d in self.devices if d.claimed_by}

    def open_handle_count(self) -> int:
        return len(self.emulator.handles)

    def _presentation_hook(self, device: SimDevice):
        def take(kind: str) -> bool:
            return self.take(device, kind)
        return take


class EmulatedBus(usb.backend.IBackend):
    """The emulated devices themselves: descriptors, handles, firmware, replies. No faults."""

    def __init__(self, *, seed: int, sources: dict[str, SampleSource] | None = None,
                 modalities=None, fault_hook=None):
        super().__init__()
        self._lock = threading.RLock()
        self.handles: set[_Handle] = set()
        self.devices: list[SimDevice] = []
        sources = sources or {}
        for i, spec in enumerate(SPECS):
            if modalities is not None and spec.modality not in modalities:
                continue
            rng = np.random.default_rng([seed, i])
            source = sources.get(spec.modality) or default_source(spec.modality)
            device = SimDevice(spec, None, FaultPlan())  # type: ignore[arg-type]
            device.firmware = FIRMWARES[spec.modality](
                source, rng, spec.serial,
                fault_hook=fault_hook(device) if fault_hook is not None else None)
            self.devices.append(device)

    # --- enumeration and descriptors ----------------------------------------------------------
    def enumerate_devices(self):
        with self._lock:
            return list(self.devices)

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

    def _live(self, handle: _Handle) -> SimDevice:
        if handle not in self.handles:
            raise _usb_error("invalid handle", errno.EINVAL)
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
    def _begin_transfer(self, handle, intf, ep, expected_ep, what) -> SimDevice:
        dev = self._live(handle)
        if dev.claimed_by.get(intf) is not handle:
            raise _usb_error("interface not claimed by this handle", errno.EBUSY)
        if ep != expected_ep:
            raise _usb_error(f"endpoint {ep:#04x} is not {what}", errno.EPIPE)
        return dev

    def bulk_write(self, handle, ep, intf, data, timeout):
        with self._lock:
            dev = self._begin_transfer(handle, intf, ep, p.EP_OUT, "bulk OUT")
            command = bytes(data)
            dev.replies.append(dev.firmware.handle(command))
            dev.stats["written"] += len(command)
        return len(command)

    def bulk_read(self, handle, ep, intf, buff, timeout):
        with self._lock:
            dev = self._begin_transfer(handle, intf, ep, p.EP_IN, "bulk IN")
            reply = dev.replies.popleft() if dev.replies else None
        if reply is None:  # nothing to answer: the read waits its timeout
            time.sleep(min((timeout / 1000) if timeout else 1.0, 2.0))
            raise usb.core.USBTimeoutError("bulk read timed out", -7, errno.ETIMEDOUT)
        n = len(reply)
        if n > len(buff) * buff.itemsize:
            raise _usb_error(f"reply of {n} bytes overflows the {len(buff)}-byte buffer", errno.EOVERFLOW)
        memoryview(buff).cast("B")[:n] = reply
        dev.stats["read"] += n
        return n

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
