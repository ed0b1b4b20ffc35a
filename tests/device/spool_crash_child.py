"""Child process for spool crash tests.

Usage: ``python -m tests.device.spool_crash_child DIR POINT NTH``. It queues chunks 1..10
(printing ``acked <seq>`` after each ``put`` returns) and, after each put, commits a journal
state recording that chunk as uploaded (printing ``journaled <seq>``), until the crash
point kills it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from device.spool import Journal, JournalState, Spool
from tests.device.crashkit import KillAt


def payload(seq: int) -> bytes:
    return bytes([seq % 251]) * (1000 + seq)


def main() -> None:
    directory, point, nth = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    crash = KillAt(point, nth)
    journal = Journal(directory, crash=crash)
    spool = Spool(directory, max_bytes=10_000_000, crash=crash)
    for i in range(1, 11):
        seq = spool.put(payload(i), wall_ms=1_000 * i)
        print(f"acked {seq}", flush=True)
        journal.commit(JournalState(last_chunk_seq=seq))
        print(f"journaled {seq}", flush=True)
    print("done", flush=True)


if __name__ == "__main__":
    main()
