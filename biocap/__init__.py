"""biocap: capture biometric samples, judge their quality, encode and match them.

The small public face: `SDK` (devices, capture, preview) and the value types. Algorithms are
reached through the SDK's registered providers (`sdk.assess`, `sdk.extract`, `sdk.compare`).
"""
from importlib import metadata as _metadata

from .errors import BiocapError, RetryableError  # noqa: F401
from .types import (CaptureRequest, CaptureResult, DeviceInfo, FingerPosition,  # noqa: F401
                    IrisPosition, Modality, PenSeries, Sample)

try:  # written once, in pyproject.toml; read from the installed package's metadata
    __version__ = _metadata.version("biocap")
except _metadata.PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"


def __getattr__(name):  # SDK pulls in pyusb; import it only when asked for
    if name == "SDK":
        from .sdk import SDK
        return SDK
    raise AttributeError(name)
