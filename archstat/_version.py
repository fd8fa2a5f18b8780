"""The version, at the bottom of the layers (report/ and profile/ write it into their outputs)."""

__version__ = "0.1.0"
