"""One error hierarchy for the whole SDK.

Apps loop on `RetryableError` (the subject or the device asks for another try) and stop on every
other `BiocapError`. Every message says what was wrong and what to do about it.
"""
from __future__ import annotations


class BiocapError(Exception):
    """Base of every error biocap raises on purpose."""

    #: short hint for the operator or the integrator; subclasses set a default
    hint: str = ""

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        if hint is not None:
            self.hint = hint

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base} ({self.hint})" if self.hint and self.hint not in base else base


# --- retryable: the same call may succeed if repeated ---------------------------------------------
class RetryableError(BiocapError):
    """A condition that goes away by trying again (the subject or the device needs another go)."""


class NoPresentation(RetryableError):
    """Nothing is on or before the sensor yet (retryable)."""
    hint = "place the finger / face / eye on or before the sensor"


class PresentationMoved(RetryableError):
    """The finger, eye or face moved during the capture (retryable)."""
    hint = "hold still until the capture is complete"


class CentreThePresentation(RetryableError):
    """The presentation is off the sensor's centre (retryable)."""
    hint = "centre the finger (or eye, or face) on the sensor"


class SubjectTimeout(RetryableError):
    """No usable presentation came before the timeout (retryable)."""
    hint = "no usable presentation before the timeout; ask the subject to try again"


class TransferTimeout(RetryableError):
    """The device did not answer a USB transfer in time (retryable)."""
    hint = "the device did not answer in time; retry, and check the cable if it persists"


# --- device failures ------------------------------------------------------------------------------
class DeviceError(BiocapError):
    """The device cannot do what was asked; retrying the same call will not help by itself."""


class NoSuchDevice(DeviceError):
    """No connected device matches the id or name given."""
    hint = "run `biocap devices` to list the connected devices"


class DeviceBusy(DeviceError):
    """Another program or handle holds the device."""
    hint = "another program or handle holds the device; close it and try again"


class DeviceDisconnected(DeviceError):
    """The device was unplugged while in use."""
    hint = "the device was unplugged; reconnect it and open it again"


class AccessDenied(DeviceError):
    """The process may not open the USB device."""
    hint = "no permission for the USB device; add a udev rule or run with the needed rights"


class ProtocolError(DeviceError):
    """The device answered something its driver did not expect."""
    hint = "the device answered something unexpected; update the driver or firmware"


# --- bad data -------------------------------------------------------------------------------------
class InvalidDataError(BiocapError):
    """Input data (an image, a record, a file) is not what it must be."""


class InvalidSample(InvalidDataError):
    """A sample (image, resolution, modality) is malformed or not usable."""
    hint = "pass a 2-D uint8 image with its resolution in ppi"


class TemplateFormatError(InvalidDataError):
    """A template or interchange record is malformed; names the field and the byte offset."""

    def __init__(self, message: str, *, field: str | None = None, offset: int | None = None,
                 hint: str | None = None):
        where = []
        if field is not None:
            where.append(f"field {field}")
        if offset is not None:
            where.append(f"byte offset {offset}")
        full = f"{message} [{', '.join(where)}]" if where else message
        super().__init__(full, hint=hint)
        self.field = field
        self.offset = offset


class InvalidRequest(BiocapError, ValueError):
    """A call's arguments are out of range (also a ValueError, for code that catches that)."""


# --- configuration / plugins ----------------------------------------------------------------------
class PluginError(BiocapError):
    """A plugin failed to load, register or answer."""
    hint = "check the plugin's installation; `biocap plugins` lists the problems found"


class NoProvider(BiocapError):
    """No algorithm is registered for what was asked (e.g. no quality provider for a modality)."""

    hint = "install or register a plugin that provides it"
