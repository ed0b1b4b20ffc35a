"""Shared bases of the emulated services (errors, ASGI glue); a leaf that imports no service."""
