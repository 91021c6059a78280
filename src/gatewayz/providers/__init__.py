"""Upstream providers: the provider table (data), one adapter per wire protocol, the catalog."""
