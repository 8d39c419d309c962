"""Face: detection + 5-point landmarks (dlib), ISO/IEC 29794-5 quality components, feedback."""
from ...templates.face.detection import FaceDetection, canonical_crop, detect_faces  # noqa: F401
from .provider import FaceQuality  # noqa: F401
