"""Integration tests across packages, against real services (Mosquitto)."""
