"""Codecs for standard record formats: one module per format version."""
