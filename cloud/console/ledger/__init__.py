"""The recording ledger: what every camera recorded, and whether OSS agrees."""

from cloud.console.ledger.models import (
    CameraState,
    Page,
    Recording,
    SegmentFacts,
    StatusFacts,
    Verification,
)
from cloud.console.ledger.store import FLEET, Ledger, migrate_ledger

__all__ = [
    "FLEET",
    "CameraState",
    "Ledger",
    "Page",
    "Recording",
    "SegmentFacts",
    "StatusFacts",
    "Verification",
    "migrate_ledger",
]
