"""Synthetic iris data: eye images with identity and ground truth (`eye`), filler codes with
the statistics of real ones (`codes`)."""
