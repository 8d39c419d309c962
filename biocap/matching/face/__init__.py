"""Face 1:1 comparison (FaceComparator); the 1:N gallery lives in gallery.py (facelib branch)."""
from .comparator import FaceComparator  # noqa: F401
