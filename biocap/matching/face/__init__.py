"""Face 1:1 comparison (FaceComparator) and the 1:N gallery (FaceGallery) with its kernel."""
from .comparator import FaceComparator  # noqa: F401
