"""Online signature verification: elastic (DTW) and global-feature scores, fused and normalised by
the person's own reference set. Public face: `SignatureComparator`, `SignatureReferences`."""
from .comparator import SignatureComparator, SignatureReferences  # noqa: F401
