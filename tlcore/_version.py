"""The library version, recorded with every cached result."""
__version__ = "0.2.0"
