"""The biocap plugin: the four simulated sensors' drivers and the emulated bus they sit on."""
from __future__ import annotations

import threading

from biocap.plugins.hookspecs import hookimpl
from biocap.plugins.usb import UsbBus

from .backend import SimBackend

BUS_NAME = "sim"
_lock = threading.Lock()
_shared: UsbBus | None = None


def make_bus(name: str = BUS_NAME, **backend_options) -> UsbBus:
    """A fresh emulated bus (options: seed, faults, sources, modalities; see SimBackend)."""
    return UsbBus(name, SimBackend(**backend_options))


def shared_bus() -> UsbBus:
    """The process-wide emulated bus the entry point contributes (seed and faults from the
    environment: BIOCAP_SIM_SEED, BIOCAP_SIM_FAULTS, BIOCAP_SIM_SOURCES)."""
    global _shared
    with _lock:
        if _shared is None:
            _shared = make_bus()
        return _shared


@hookimpl
def biocap_drivers():
    from .drivers import DRIVERS
    return list(DRIVERS)


@hookimpl
def biocap_usb_buses():
    return [shared_bus()]
