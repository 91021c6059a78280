"""Gatewayz: one HTTP gateway in front of every AI inference provider."""

__version__ = "0.1.0"
