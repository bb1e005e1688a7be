"""lambench: a terminal workbench for AWS Lambda."""

__version__ = "0.1.0"
