"""Notices to users by mail: the notices, and the mail backends that deliver them."""
