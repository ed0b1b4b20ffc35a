"""Durable on-disk spool: chunk queue, upload journal, crash points."""

from device.spool.chunkfile import Chunk
from device.spool.crash import NO_CRASH, CrashPoints, NoCrash
from device.spool.journal import Journal, JournalState, ObjectRecord, UploadCounters
from device.spool.queue import Spool, SpoolCounters, SpoolStats

__all__ = [
    "NO_CRASH",
    "Chunk",
    "CrashPoints",
    "Journal",
    "JournalState",
    "NoCrash",
    "ObjectRecord",
    "Spool",
    "SpoolCounters",
    "SpoolStats",
    "UploadCounters",
]
