"""Synthetic iris data: filler codes with the statistics of real ones (`codes`)."""
