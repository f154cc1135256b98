"""The package version, on its own so that any layer can read it without importing ``cove``."""

__version__ = "0.1.0"
