"""Durable on-disk spool: chunk queue (appends and whole objects), upload journal, source
marks, crash points."""

from device.spool.chunkfile import (
    FLAG_INIT_SEGMENT,
    FLAG_SEGMENT_START,
    FLAG_WHOLE_OBJECT,
    Chunk,
)
from device.spool.crash import NO_CRASH, CrashPoints, NoCrash
from device.spool.header import HeaderStore
from device.spool.journal import Journal, JournalState, ObjectRecord, UploadCounters
from device.spool.mark import SourceMark
from device.spool.objectput import ObjectPut, Report, decode_object_put, encode_object_put
from device.spool.queue import Spool, SpoolCounters, SpoolStats

__all__ = [
    "FLAG_INIT_SEGMENT",
    "FLAG_SEGMENT_START",
    "FLAG_WHOLE_OBJECT",
    "NO_CRASH",
    "Chunk",
    "CrashPoints",
    "HeaderStore",
    "Journal",
    "JournalState",
    "NoCrash",
    "ObjectPut",
    "ObjectRecord",
    "Report",
    "SourceMark",
    "Spool",
    "SpoolCounters",
    "SpoolStats",
    "UploadCounters",
    "decode_object_put",
    "encode_object_put",
]
