"""mumo: a reproducible pipeline for the MuMo molecular property model."""

__version__ = "0.1.0"
