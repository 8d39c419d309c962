"""Value types shared by every part of the SDK."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np

from .errors import InvalidRequest, InvalidSample

#: largest image side we accept anywhere; a larger one is refused instead of allocated
MAX_IMAGE_SIDE = 8192


#: resolutions a Sample of any modality may have (a face camera's few dozen ppi to a 4,000 ppi
#: latent scanner); each modality's algorithms check their own narrower range (fingerprint:
#: biocap.imaging.MIN_FINGERPRINT_PPI..MAX_FINGERPRINT_PPI)
SAMPLE_PPI_RANGE = (50.0, 5000.0)


class Modality(str, enum.Enum):
    """The four biometric modalities biocap handles."""
    FINGERPRINT = "fingerprint"
    IRIS = "iris"
    FACE = "face"
    SIGNATURE = "signature"


class FingerPosition(enum.IntEnum):
    """Finger position codes of ISO/IEC 19794-4 (also ANSI/NIST-ITL and ISO/IEC 19794-2)."""

    UNKNOWN = 0
    RIGHT_THUMB = 1
    RIGHT_INDEX = 2
    RIGHT_MIDDLE = 3
    RIGHT_RING = 4
    RIGHT_LITTLE = 5
    LEFT_THUMB = 6
    LEFT_INDEX = 7
    LEFT_MIDDLE = 8
    LEFT_RING = 9
    LEFT_LITTLE = 10
    PLAIN_RIGHT_FOUR = 13
    PLAIN_LEFT_FOUR = 14
    PLAIN_THUMBS = 15

    @property
    def is_slap(self) -> bool:
        return self.value >= 13

    @property
    def fingers(self) -> tuple["FingerPosition", ...]:
        """The single fingers a position covers (a slap covers several)."""
        return _SLAP_FINGERS.get(self, (self,))


_SLAP_FINGERS = {
    FingerPosition.PLAIN_RIGHT_FOUR: tuple(FingerPosition(i) for i in (2, 3, 4, 5)),
    FingerPosition.PLAIN_LEFT_FOUR: tuple(FingerPosition(i) for i in (7, 8, 9, 10)),
    FingerPosition.PLAIN_THUMBS: (FingerPosition.RIGHT_THUMB, FingerPosition.LEFT_THUMB),
}


class IrisPosition(enum.IntEnum):
    """Eye labels of ISO/IEC 19794-6."""

    UNDEFINED = 0
    RIGHT = 1
    LEFT = 2


Position = FingerPosition | IrisPosition | None


@dataclass(frozen=True)
class DeviceInfo:
    id: str
    modality: Modality
    vendor: str
    model: str
    serial: str
    vendor_id: int
    product_id: int
    bus: str
    driver: str
    firmware: str = ""
    ppi: int | None = None
    image_size: tuple[int, int] | None = None  # (width, height) of a frame
    positions: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict of the device's description."""
        return {
            "id": self.id, "modality": self.modality.value, "vendor": self.vendor,
            "model": self.model, "serial": self.serial,
            "vendor_id": f"{self.vendor_id:04x}", "product_id": f"{self.product_id:04x}",
            "bus": self.bus, "driver": self.driver, "firmware": self.firmware, "ppi": self.ppi,
            "image_size": list(self.image_size) if self.image_size else None,
            "positions": list(self.positions),
        }


@dataclass(frozen=True)
class PenSeries:
    """An online signature: one row per pen sample, times in milliseconds."""

    x: np.ndarray
    y: np.ndarray
    pressure: np.ndarray
    t_ms: np.ndarray
    pen_down: np.ndarray
    azimuth: np.ndarray | None = None
    altitude: np.ndarray | None = None

    def __post_init__(self):
        n = len(self.x)
        for name in ("y", "pressure", "t_ms", "pen_down"):
            if len(getattr(self, name)) != n:
                raise InvalidSample(f"pen series column {name!r} has {len(getattr(self, name))} "
                                    f"points, x has {n}")
        if n == 0:
            raise InvalidSample("pen series is empty", hint="capture at least one pen sample")

    def __len__(self) -> int:
        return len(self.x)


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Sample:
    """One captured biometric sample: an 8-bit grey image with its resolution, and its metadata."""

    image: np.ndarray
    ppi: float
    modality: Modality
    position: Position = None
    device: DeviceInfo | None = None
    captured_at: datetime = field(default_factory=_now)
    device_quality: int | None = None  # the device's own score (0-100), reported apart from ours
    pen: PenSeries | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    # optional RGB version of `image` (h, w, 3) uint8, for cameras that see colour (face): the face
    # descriptor loses accuracy on grey (docs/decisions/18-face-colour.md); `image` stays its luma
    colour: np.ndarray | None = None

    def __post_init__(self):
        self.modality = Modality(self.modality)
        validate_image(self.image)
        if self.colour is not None:
            validate_colour(self.colour, self.image.shape)
        low, high = SAMPLE_PPI_RANGE
        if not (isinstance(self.ppi, (int, float)) and np.isfinite(self.ppi) and low <= self.ppi <= high):
            raise InvalidSample(f"resolution {self.ppi!r} ppi is outside the {low:g}-{high:g} ppi a "
                                "Sample of any modality may have",
                                hint="give the sensor's resolution in pixels per inch (fingerprint "
                                     "algorithms further need 250-2000)")
        if self.device_quality is not None and not 0 <= self.device_quality <= 100:
            raise InvalidSample(f"device quality {self.device_quality} is outside 0-100")
        if self.modality is Modality.SIGNATURE and self.pen is None:
            pass  # an offline (scanned) signature has no pen series; that is allowed

    def __repr__(self) -> str:  # the pixels are not printed: an image is megabytes of digits
        shape = "x".join(map(str, self.image.shape[::-1])) if hasattr(self.image, "shape") else "?"
        extra = f", pen={len(self.pen)} points" if self.pen is not None else ""
        return (f"Sample({self.modality.value}, position={int(self.position or 0)}, {shape} px at "
                f"{self.ppi:g} ppi, device_quality={self.device_quality}{extra})")

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])


def require_sample(sample: Any, modality: Modality, provider: str) -> Sample:
    """`sample` when it is a Sample of `modality`; else InvalidSample naming what was given (the
    guard every provider runs first)."""
    if not isinstance(sample, Sample):
        raise InvalidSample(f"expected a Sample, got {type(sample).__name__}")
    if Modality(sample.modality) is not modality:
        raise InvalidSample(f"{provider} takes {modality.value} samples, not "
                            f"{Modality(sample.modality).value}",
                            hint="use the provider of the sample's own modality")
    return sample


def validate_image(image: Any, *, what: str = "image") -> np.ndarray:
    """Check that `image` is a 2-D uint8 array of sane size; return it or raise InvalidSample."""
    if not isinstance(image, np.ndarray):
        raise InvalidSample(f"{what} must be a numpy array, got {type(image).__name__}")
    if image.ndim != 2:
        raise InvalidSample(f"{what} must be 2-D (grey), got shape {image.shape}",
                            hint="convert colour images to grey first, e.g. cv2.cvtColor(..., COLOR_BGR2GRAY)")
    if image.dtype != np.uint8:
        raise InvalidSample(f"{what} must be uint8, got {image.dtype}",
                            hint="scale to 0-255 and convert with .astype(np.uint8)")
    h, w = image.shape
    if h < 8 or w < 8:
        raise InvalidSample(f"{what} of {w}x{h} pixels is too small to hold a biometric sample")
    if h > MAX_IMAGE_SIDE or w > MAX_IMAGE_SIDE:
        raise InvalidSample(f"{what} of {w}x{h} pixels exceeds the {MAX_IMAGE_SIDE}-pixel side limit",
                            hint="crop or downsample the image before passing it")
    return image


def validate_colour(colour: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Check that `colour` is an (h, w, 3) uint8 RGB array of the grey image's `shape`."""
    if not isinstance(colour, np.ndarray) or colour.dtype != np.uint8 or colour.ndim != 3 \
            or colour.shape[2] != 3:
        raise InvalidSample(f"colour image must be an (h, w, 3) uint8 RGB array, got "
                            f"{getattr(colour, 'shape', type(colour).__name__)} "
                            f"{getattr(colour, 'dtype', '')}".rstrip(),
                            hint="pass colour=None for a grey-only camera")
    if colour.shape[:2] != tuple(shape):
        raise InvalidSample(f"colour image {colour.shape[1]}x{colour.shape[0]} does not match the "
                            f"grey image {shape[1]}x{shape[0]}")
    return colour


@dataclass
class CaptureRequest:
    """What to capture (in the manner of MOSIP's registration capture)."""

    modality: Modality
    positions: tuple[int, ...] = ()
    missing: dict[int, str] = field(default_factory=dict)  # position -> reason (e.g. amputated)
    quality_threshold: int = 40  # auto-capture as soon as the SDK score reaches this
    timeout_s: float = 10.0
    attempts: int = 1

    def __post_init__(self):
        self.modality = Modality(self.modality)
        if not 0 <= self.quality_threshold <= 100:
            raise InvalidRequest(f"quality_threshold {self.quality_threshold} is outside 0-100")
        if not self.timeout_s > 0:
            raise InvalidRequest(f"timeout_s must be positive, got {self.timeout_s}")
        if self.attempts < 1:
            raise InvalidRequest(f"attempts must be at least 1, got {self.attempts}")

    @property
    def wanted_positions(self) -> tuple[int, ...]:
        return tuple(p for p in self.positions if p not in self.missing)


@dataclass
class CaptureResult:
    request: CaptureRequest
    samples: list[Sample]
    reports: list[Any]  # QualityReport per sample (biocap.quality.QualityReport)
    missing: dict[int, str]
    auto_captured: list[bool]  # per sample: threshold reached (True) or best frame at timeout
    elapsed_s: float
