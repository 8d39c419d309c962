"""Face 1:N gallery and its kernel (facelib); the comparator lives beside them."""
