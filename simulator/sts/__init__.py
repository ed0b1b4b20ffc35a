"""Emulated STS: the AssumeRole RPC API (signature checks, throttling, JSON replies)."""
