"""Trained model files of the quality providers (data only; see train_fingerprint)."""
