"""The documented contract between biocap and its plugins.

Every hook returns a list of contributions; the built-in algorithms register through these same
hooks (entry point `builtin` in biocap's own pyproject), so a third party can do all they do.
"""
from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("biocap")
hookimpl = pluggy.HookimplMarker("biocap")


@hookspec
def biocap_drivers():
    """Return a list of `biocap.plugins.driver.DeviceDriver` subclasses this plugin provides."""


@hookspec
def biocap_usb_buses():
    """Return a list of `biocap.plugins.usb.UsbBus` (a named pyusb backend: emulated, recorded...)."""


@hookspec
def biocap_quality_providers():
    """Return a list of `biocap.quality.QualityProvider` objects (one modality each)."""


@hookspec
def biocap_extractors():
    """Return a list of extractor objects: `name`, `modality`, `extract(sample) -> template`."""


@hookspec
def biocap_comparators():
    """Return a list of comparator objects: `name`, `modality`, `compare(a, b) -> float`,
    and optionally `gallery()` returning an empty 1:N gallery for that template type."""
