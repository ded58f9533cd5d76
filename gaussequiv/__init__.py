"""Command-line entry point of the gaussequiv library (``gaussequiv --help``)."""

__version__ = "0.1.0"
