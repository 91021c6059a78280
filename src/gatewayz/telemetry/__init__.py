"""Metrics, traces, structured logs and the request log."""
