"""One fault-injecting USB bus: a pyusb backend around any other (the simulator's emulated bus, a
recording, libusb) that makes transfers fail the way real devices do.

    bus = UsbBus("faulty", FaultBus(inner_backend))
    bus.backend.set_faults(None, "timeout@3,corrupt@9*2")   # None: counted over the whole bus

Kinds (what the driver's transfer K sees; K counts bulk, interrupt and control transfers other
than descriptor reads, from 1, per device or over the whole bus):

| kind | what happens | pyusb error (biocap error after `map_usb_error`) |
|---|---|---|
| `disconnect` (alias `unplug`) | the device leaves the bus: this and every later call fail | ENODEV (`DeviceDisconnected`) |
| `timeout` | the transfer is lost: a command never arrives, a read gets nothing (a queued reply stays queued); it fails after its own timeout | ETIMEDOUT (`TransferTimeout`) |
| `stall` | the endpoint stalls: the transfer is refused at once | EPIPE (`ProtocolError`) |
| `busy` | the firmware is busy: the device's protocol answers with its busy reply (`FrameProtocol.busy_reply`), or without one the transfer fails | its busy reply, else EBUSY (`DeviceBusy`) |
| `slow` | the reply to this transfer comes `slow_delay_s` late; reads time out until it arrives, then it is delivered (stale) | ETIMEDOUT until then |
| `corrupt` | one bit of the first frame reply at or after K is flipped | (the protocol's own check) |
| `short` | the first frame reply at or after K is cut to half its length | (the protocol's own check) |

`corrupt` and `short` are taken only when a frame reply is actually delivered (which replies are
frames: `FrameProtocol.is_frame`), so nothing is queued ahead: once the faults are cleared, the
next frame works. A plan may also hold kinds the bus does not act on (a simulator's presentation
faults); their owner consumes them with `take`.
"""
from __future__ import annotations

import array
import errno
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np
import usb.backend
import usb.core

#: the kinds the bus acts on, in the order they are checked on a transfer
KINDS = ("disconnect", "timeout", "stall", "busy", "slow", "corrupt", "short")
#: other names accepted in a fault spec
ALIASES = {"unplug": "disconnect"}
#: an injected timeout waits the transfer's own timeout, at most this long (0 = "forever" too)
MAX_WAIT_S = 2.0
#: how late a slow reply comes: longer than the 500 ms transfer timeout drivers use
SLOW_DELAY_S = 0.8

_FAULT = re.compile(r"^(?P<kind>[a-z]+)(?:@(?P<at>\d+))?(?:\*(?P<count>\d+))?$")
_LIBUSB = {errno.ENODEV: -4, errno.EBUSY: -6, errno.EPIPE: -9, errno.EOVERFLOW: -8,
           errno.EACCES: -3, errno.EINVAL: -2, errno.ETIMEDOUT: -7}


def usb_error(message: str, err: int) -> usb.core.USBError:
    """A pyusb error as libusb reports it (errno and libusb code), so `map_usb_error` maps it."""
    if err == errno.ETIMEDOUT:
        return usb.core.USBTimeoutError(message, -7, err)
    return usb.core.USBError(message, _LIBUSB.get(err, -99), err)


class FaultSpecError(ValueError):
    """A fault spec that cannot be read (unknown kind, bad numbers)."""


@dataclass
class Fault:
    """`kind` due from transfer `at` on, `count` times."""

    kind: str
    at: int = 1
    count: int = 1
    fired: int = 0

    @property
    def spent(self) -> bool:
        return self.fired >= self.count


class FaultPlan:
    """The pending faults of one device (or of a whole bus). `take(kind, transfer)` consumes one
    firing if one is due."""

    def __init__(self, faults: Iterable[Fault] = ()):
        self.faults = list(faults)

    @classmethod
    def parse(cls, text: str, kinds: tuple[str, ...] = KINDS) -> "FaultPlan":
        """`"timeout@3,corrupt@9*2"`: KIND@K*N items (K default 1, N default 1)."""
        faults = []
        for item in filter(None, (s.strip() for s in (text or "").split(","))):
            m = _FAULT.match(item)
            if not m:
                raise FaultSpecError(f"cannot read fault {item!r} (expected KIND@K or KIND@K*N)")
            kind = ALIASES.get(m["kind"], m["kind"])
            if kind not in kinds:
                known = ", ".join(sorted(set(kinds) | {a for a, k in ALIASES.items() if k in kinds}))
                raise FaultSpecError(f"unknown fault kind {m['kind']!r}; known: {known}")
            at, count = int(m["at"] or 1), int(m["count"] or 1)
            if at < 1 or count < 1:
                raise FaultSpecError(f"fault {item!r}: transfer and count must be >= 1")
            faults.append(Fault(kind, at, count))
        return cls(faults)

    def take(self, kind: str, transfer: int) -> bool:
        """Consume one firing of `kind` if one is due at `transfer`; True if one was."""
        fault = self._due(kind, transfer)
        if fault is not None:
            fault.fired += 1
        return fault is not None

    def due(self, kind: str, transfer: int) -> bool:
        """Is a firing of `kind` due at `transfer` (nothing consumed)?"""
        return self._due(kind, transfer) is not None

    def _due(self, kind: str, transfer: int) -> Fault | None:
        return next((f for f in self.faults
                     if f.kind == kind and not f.spent and transfer >= f.at), None)

    def pending(self) -> list[Fault]:
        """The faults that have firings left."""
        return [f for f in self.faults if not f.spent]

    def __bool__(self) -> bool:
        return bool(self.pending())


class FrameProtocol:
    """What a device's protocol says about its replies, for the faults that act on them. The
    defaults know no protocol: every IN transfer is a frame, busy fails the transfer (EBUSY)."""

    def __init__(self, seed: int = 0):
        self._rng = np.random.default_rng(seed)

    def is_frame(self, dev: Any, data: bytes) -> bool:
        """Is this reply one that `corrupt` / `short` act on?"""
        return True

    def rng(self, dev: Any) -> np.random.Generator:
        """Where a corruption's byte and bit come from (a device's seeded generator)."""
        return self._rng

    def corrupt(self, dev: Any, data: bytes) -> bytes:
        """`data` with one bit flipped (byte and bit from `rng(dev)`, at or after `corrupt_from`)."""
        rng = self.rng(dev)
        out = bytearray(data)
        if out:
            at = int(rng.integers(self.corrupt_from(dev, data), len(out)))
            out[at] ^= 1 << int(rng.integers(8))
        return bytes(out)

    def corrupt_from(self, dev: Any, data: bytes) -> int:
        """The first byte a corruption may hit (a protocol may keep its header intact)."""
        return 0

    def short(self, dev: Any, data: bytes) -> bytes:
        """`data` cut to half its length."""
        return data[:len(data) // 2]

    def busy_reply(self, dev: Any, data: bytes, *, command: bool) -> bytes | None:
        """The reply a busy firmware gives to a command (`command=True`) or instead of a reply;
        None: the protocol has none and the transfer fails with EBUSY."""
        return None


@dataclass
class TransferRecord:
    """One transfer as the driver issued it (kept when `keep_log`)."""

    call: str
    endpoint: int
    timeout_ms: int
    started: float


@dataclass
class _DeviceState:
    transfers: int = 0
    unplugged: bool = False
    held: deque = field(default_factory=deque)   # (ready_at, bytes): replies read, not yet given
    late_until: float = 0.0                      # the next reply arrives no earlier than this


class FaultBus(usb.backend.IBackend):
    """A pyusb backend around `inner` that injects the faults of its plans (one per device, keyed
    by the inner backend's device object, and one for the whole bus under `None`), tracks open
    handles and claimed interfaces, and can bring devices back (`replug`).

    `replug_on_close`: a disconnected device comes back once the host has closed every handle to
    it (an emulator's behaviour); otherwise it stays gone until `replug()` (a test's control).
    """

    def __init__(self, inner: Any, *, protocol: FrameProtocol | None = None,
                 replug_on_close: bool = False, slow_delay_s: float = SLOW_DELAY_S,
                 keep_log: bool = False):
        super().__init__()
        self.inner = inner
        self.protocol = protocol or FrameProtocol()
        self.replug_on_close = replug_on_close
        self.slow_delay_s = slow_delay_s
        self.plans: dict[int | None, FaultPlan] = {}
        #: transfers over the whole bus
        self.transfers = 0
        self.log: list[TransferRecord] | None = [] if keep_log else None
        self.quiet = False
        self.unplugged = False          # the whole bus is gone
        self.claimed: set[tuple[int, int]] = set()   # (id(handle), interface)
        self.handles: set[int] = set()
        self._handle_objects: dict[int, Any] = {}
        self._device_of: dict[int, Any] = {}         # id(handle) -> inner device
        self._states: dict[int, _DeviceState] = {}   # id(inner device) -> state
        self._devices: list[Any] = []                # devices opened through the bus
        self._wake = threading.Event()
        self._lock = threading.RLock()

    # --- control --------------------------------------------------------------------------------
    def set_faults(self, dev: Any, faults: FaultPlan | str, *, from_now: bool = True,
                   kinds: tuple[str, ...] = KINDS) -> FaultPlan:
        """Replace the plan of `dev` (None: the whole bus). With `from_now`, K counts from the
        current transfer, so the fault lands K transfers from now. Returns the plan."""
        plan = FaultPlan.parse(faults, kinds) if isinstance(faults, str) else faults
        with self._lock:
            if from_now:
                done = self.transfers if dev is None else self._state(dev).transfers
                for fault in plan.faults:
                    fault.at += done
            self.plans[None if dev is None else id(dev)] = plan
        return plan

    def take(self, dev: Any, kind: str) -> bool:
        """Consume one firing of `kind` if one is due now for `dev` (or the bus)."""
        with self._lock:
            return self._take(dev, kind)

    def unplug_at(self, k: int) -> None:
        """The bus disappears at its k-th transfer from now, until `replug()`."""
        self._bus_plan().faults.append(Fault("disconnect", self.transfers + max(1, int(k))))

    def timeout_at(self, k: int, count: int = 1) -> None:
        """The k-th transfer from now (and the next count-1) time out."""
        plan = self._bus_plan()
        plan.faults = [f for f in plan.faults if f.kind != "timeout"]
        plan.faults.append(Fault("timeout", self.transfers + max(1, int(k)), max(1, int(count))))

    def go_quiet(self) -> None:
        """Every transfer from now on times out (a device that stopped answering)."""
        self.quiet = True

    def replug(self, dev: Any = None) -> None:
        """Bring a disconnected device (None: the whole bus) back at its power-on state; the
        bus's own faults are cleared."""
        with self._lock:
            if dev is None:
                self.unplugged = self.quiet = False
                self.plans.pop(None, None)
                for state in self._states.values():
                    state.unplugged = False
                    state.held.clear()
                    state.late_until = 0.0
            else:
                state = self._state(dev)
                state.unplugged = False
                state.held.clear()
                state.late_until = 0.0
        self.restart(dev)

    def restart(self, dev: Any = None) -> None:
        """Bring the inner device(s) back to their power-on state: a recording starts its session
        over; any other gets a USB reset (what a re-plug amounts to), which also drops replies
        still queued when a fault hit."""
        rewind = getattr(self.inner, "rewind", None)
        if callable(rewind):
            rewind()
            return
        for target in ([dev] if dev is not None else list(self._devices)):
            try:
                handle = self.inner.open_device(target)
            except Exception:  # noqa: BLE001 - a device that is gone needs no reset
                continue
            try:
                self.inner.reset_device(handle)
            except Exception:  # noqa: BLE001 - a backend without reset: nothing more to do
                pass
            finally:
                self.inner.close_device(handle)

    def interrupt(self) -> None:
        """Cut short every injected wait in progress."""
        self._wake.set()

    def force_cleanup(self) -> None:
        """Release what a misbehaving driver left claimed or open, directly on the inner
        backend, so the next user starts from a clean device."""
        for handle_id, intf in list(self.claimed):
            handle = self._handle_objects.get(handle_id)
            if handle is not None:
                try:
                    self.inner.release_interface(handle, intf)
                except Exception:  # noqa: BLE001 - best effort on a device left in a bad state
                    pass
        for handle in list(self._handle_objects.values()):
            try:
                self.inner.close_device(handle)
            except Exception:  # noqa: BLE001
                pass
        self.claimed.clear()
        self.handles.clear()
        self._handle_objects.clear()

    @property
    def claimed_interfaces(self) -> list[int]:
        return sorted(intf for _, intf in self.claimed)

    def transfers_of(self, dev: Any) -> int:
        """How many transfers `dev` has seen through this bus."""
        return self._state(dev).transfers

    # --- plumbing -------------------------------------------------------------------------------
    def _entry(self) -> None:
        """Called at every backend call (a subclass may stop a runaway driver here)."""

    def _bus_plan(self) -> FaultPlan:
        return self.plans.setdefault(None, FaultPlan())

    def _state(self, dev: Any) -> _DeviceState:
        state = self._states.get(id(dev))
        if state is None:
            state = self._states[id(dev)] = _DeviceState()
        return state

    def _planned(self, dev: Any) -> bool:
        """Does any plan that applies to `dev` hold a fault (spent or not)? Cheap: the common
        case, no faults at all, skips the per-kind checks."""
        plan = self.plans.get(id(dev)) if dev is not None else None
        bus_plan = self.plans.get(None)
        return bool((plan is not None and plan.faults) or (bus_plan is not None and bus_plan.faults))

    def _take(self, dev: Any, kind: str, *, consume: bool = True) -> bool:
        """One firing of `kind` due for `dev` (its own plan first, then the bus's), consumed."""
        plan = self.plans.get(id(dev)) if dev is not None else None
        check = FaultPlan.take if consume else FaultPlan.due
        if plan is not None and check(plan, kind, self._state(dev).transfers):
            return True
        bus_plan = self.plans.get(None)
        return bus_plan is not None and check(bus_plan, kind, self.transfers)

    def _gone(self, dev: Any) -> bool:
        return self.unplugged or (dev is not None and self._state(dev).unplugged)

    def _check_gone(self, dev: Any, what: str) -> None:
        if self._gone(dev):
            raise usb_error(f"{what}: no such device (it has been disconnected)", errno.ENODEV)

    def _begin(self, handle: Any, call: str, endpoint: int,
               timeout: int) -> tuple[Any, str | None, bool]:
        """Count one transfer; return (device, the fault due on it, whether any plan applies)."""
        self._entry()
        dev = self._device_of.get(id(handle))
        with self._lock:
            self.transfers += 1
            state = self._state(dev) if dev is not None else None
            if state is not None:
                state.transfers += 1
            if self.log is not None:
                self.log.append(TransferRecord(call, endpoint, int(timeout or 0), time.monotonic()))
            if self.unplugged or (state is not None and state.unplugged):
                raise usb_error(f"{call}: no such device (it has been disconnected)", errno.ENODEV)
            if not self.quiet and not self._planned(dev):
                return dev, None, False
            device_plan = self.plans.get(id(dev)) if dev is not None else None
            if device_plan is not None and device_plan.take("disconnect", self._state(dev).transfers):
                self._state(dev).unplugged = True     # this device leaves the bus
            elif self._take(None, "disconnect"):
                self.unplugged = True                 # the whole bus goes
            fault = "disconnect" if self._gone(dev) else \
                next((k for k in KINDS[1:5] if self._take(dev, k)), None)
            if fault == "disconnect":
                raise usb_error(f"{call}: no such device (unplugged during the transfer)",
                                errno.ENODEV)
        if self.quiet or fault == "timeout":
            self._wait(timeout)
            self._entry()
            raise usb_error(f"{call}: timed out (the transfer was lost)", errno.ETIMEDOUT)
        if fault == "stall":
            raise usb_error(f"{call}: endpoint {endpoint:#04x} stalled", errno.EPIPE)
        return dev, fault, True

    def _wait(self, timeout_ms: int) -> None:
        wait = MAX_WAIT_S if not timeout_ms else min(timeout_ms / 1000, MAX_WAIT_S)
        self._wake.wait(wait)

    def _write(self, call: str, handle, ep: int, intf: int, data, timeout: int) -> int:
        """A write through to the inner backend's `call`, with the fault due on it."""
        dev, fault, planned = self._begin(handle, call, ep, timeout)
        if not planned:
            return getattr(self.inner, call)(handle, ep, intf, data, timeout)
        if fault == "busy":
            reply = self.protocol.busy_reply(dev, bytes(data), command=True)
            if reply is None:
                raise usb_error(f"{call}: the device is busy", errno.EBUSY)
            with self._lock:
                self._state(dev).held.append((time.monotonic(), reply))
            return len(data)
        written = getattr(self.inner, call)(handle, ep, intf, data, timeout)
        if fault == "slow":
            with self._lock:
                self._state(dev).late_until = time.monotonic() + self.slow_delay_s
        return written

    def _read(self, call: str, handle, ep: int, intf: int, buff, timeout: int) -> int:
        """A read through to the inner backend's `call` (or of a reply held back), with the
        fault due on it."""
        dev, fault, planned = self._begin(handle, call, ep, timeout)
        state = self._state(dev)
        if fault is None and not state.held and not state.late_until and not (
                planned and (self._take(dev, "corrupt", consume=False)
                             or self._take(dev, "short", consume=False))):
            # nothing to do to this reply: straight into the caller's buffer
            return getattr(self.inner, call)(handle, ep, intf, buff, timeout)
        timeout_s = min(timeout / 1000, MAX_WAIT_S) if timeout else MAX_WAIT_S
        if fault == "slow":
            state.late_until = max(state.late_until, time.monotonic() + self.slow_delay_s)
        if not state.held:
            size = len(buff) * buff.itemsize
            scratch = array.array("B", bytes(size))
            n = getattr(self.inner, call)(handle, ep, intf, scratch, timeout)
            data = scratch[:n].tobytes()
            if state.late_until > time.monotonic():
                state.held.append((state.late_until, data))
            else:
                state.held.append((0.0, data))
            state.late_until = 0.0
        ready_at, data = state.held[0]
        late = ready_at - time.monotonic()
        if late > timeout_s:
            self._wake.wait(timeout_s)
            self._entry()
            raise usb_error(f"{call}: timed out (the reply is late)", errno.ETIMEDOUT)
        if late > 0:
            time.sleep(late)
        state.held.popleft()
        if fault == "busy":
            reply = self.protocol.busy_reply(dev, data, command=False)
            if reply is None:
                raise usb_error(f"{call}: the device is busy", errno.EBUSY)
            data = reply
        if self.protocol.is_frame(dev, data):
            with self._lock:
                if self._take(dev, "corrupt"):
                    data = self.protocol.corrupt(dev, data)
                elif self._take(dev, "short"):
                    data = self.protocol.short(dev, data)
        n = len(data)
        if n > len(buff) * buff.itemsize:
            raise usb_error(f"{call}: a reply of {n} bytes overflows the "
                            f"{len(buff) * buff.itemsize}-byte buffer", errno.EOVERFLOW)
        memoryview(buff).cast("B")[:n] = data
        return n

    # --- IBackend -------------------------------------------------------------------------------
    def enumerate_devices(self):
        self._entry()
        if self.unplugged:
            return iter(())
        return [d for d in self.inner.enumerate_devices() if not self._gone(d)]

    def get_parent(self, dev):
        return self.inner.get_parent(dev)

    def get_device_descriptor(self, dev):
        return self.inner.get_device_descriptor(dev)

    def get_configuration_descriptor(self, dev, config):
        return self.inner.get_configuration_descriptor(dev, config)

    def get_interface_descriptor(self, dev, intf, alt, config):
        return self.inner.get_interface_descriptor(dev, intf, alt, config)

    def get_endpoint_descriptor(self, dev, ep, intf, alt, config):
        return self.inner.get_endpoint_descriptor(dev, ep, intf, alt, config)

    def open_device(self, dev):
        self._entry()
        self._check_gone(dev, "open")
        handle = self.inner.open_device(dev)
        with self._lock:
            if not any(d is dev for d in self._devices):
                self._devices.append(dev)
            self._device_of[id(handle)] = dev
            self.handles.add(id(handle))
            self._handle_objects[id(handle)] = handle
        return handle

    def close_device(self, dev_handle):
        with self._lock:
            dev = self._device_of.pop(id(dev_handle), None)
            self.handles.discard(id(dev_handle))
            self._handle_objects.pop(id(dev_handle), None)
            self.claimed = {c for c in self.claimed if c[0] != id(dev_handle)}
        self.inner.close_device(dev_handle)
        if (self.replug_on_close and dev is not None and self._state(dev).unplugged
                and not any(d is dev for d in self._device_of.values())):
            self.replug(dev)  # the host let go of the dead handle: the device comes back

    def _handle_call(self, dev_handle, what: str):
        self._entry()
        self._check_gone(self._device_of.get(id(dev_handle)), what)

    def set_configuration(self, dev_handle, config_value):
        self._handle_call(dev_handle, "set_configuration")
        return self.inner.set_configuration(dev_handle, config_value)

    def get_configuration(self, dev_handle):
        self._handle_call(dev_handle, "get_configuration")
        return self.inner.get_configuration(dev_handle)

    def set_interface_altsetting(self, dev_handle, intf, altsetting):
        self._handle_call(dev_handle, "set_interface_altsetting")
        return self.inner.set_interface_altsetting(dev_handle, intf, altsetting)

    def claim_interface(self, dev_handle, intf):
        self._handle_call(dev_handle, "claim_interface")
        self.inner.claim_interface(dev_handle, intf)
        self.claimed.add((id(dev_handle), intf))

    def release_interface(self, dev_handle, intf):
        self.claimed.discard((id(dev_handle), intf))
        try:
            self.inner.release_interface(dev_handle, intf)
        finally:
            self._check_gone(self._device_of.get(id(dev_handle)), "release_interface")

    def bulk_write(self, dev_handle, ep, intf, data, timeout):
        return self._write("bulk_write", dev_handle, ep, intf, data, timeout)

    def bulk_read(self, dev_handle, ep, intf, buff, timeout):
        return self._read("bulk_read", dev_handle, ep, intf, buff, timeout)

    def intr_write(self, dev_handle, ep, intf, data, timeout):
        return self._write("intr_write", dev_handle, ep, intf, data, timeout)

    def intr_read(self, dev_handle, ep, intf, buff, timeout):
        return self._read("intr_read", dev_handle, ep, intf, buff, timeout)

    def ctrl_transfer(self, dev_handle, bmRequestType, bRequest, wValue, wIndex, data, timeout):
        forward = lambda: self.inner.ctrl_transfer(  # noqa: E731
            dev_handle, bmRequestType, bRequest, wValue, wIndex, data, timeout)
        if bmRequestType == 0x80 and bRequest == 0x06:  # descriptor reads are not the protocol
            self._handle_call(dev_handle, "GET_DESCRIPTOR")
            return forward()
        _, fault, _ = self._begin(dev_handle, "ctrl_transfer", 0, timeout)
        if fault == "busy":
            raise usb_error("ctrl_transfer: the device is busy", errno.EBUSY)
        return forward()

    def clear_halt(self, dev_handle, ep):
        self._handle_call(dev_handle, "clear_halt")
        return self.inner.clear_halt(dev_handle, ep)

    def reset_device(self, dev_handle):
        self._handle_call(dev_handle, "reset_device")
        with self._lock:
            dev = self._device_of.get(id(dev_handle))
            if dev is not None:
                self._state(dev).held.clear()
                self._state(dev).late_until = 0.0
        return self.inner.reset_device(dev_handle)

    def is_kernel_driver_active(self, dev_handle, intf):
        return self.inner.is_kernel_driver_active(dev_handle, intf)

    def detach_kernel_driver(self, dev_handle, intf):
        return self.inner.detach_kernel_driver(dev_handle, intf)

    def attach_kernel_driver(self, dev_handle, intf):
        return self.inner.attach_kernel_driver(dev_handle, intf)
