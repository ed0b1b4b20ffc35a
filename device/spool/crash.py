"""Named crash points: a seam that lets a test stop the process at an exact step.

Durable code calls ``crash.reached("chunk.renamed")`` between the steps whose order makes
it crash-safe. In production the hook does nothing; a crash test passes a hook that kills
the process (SIGKILL) at the chosen point, then checks what a restart finds on disk. The
points, in the order one chunk and one upload pass them:

``chunk.tmp_written``   chunk written and fsync'd to a temporary file, not yet renamed
``chunk.renamed``       renamed into the queue, directory not yet fsync'd
``chunk.acknowledged``  directory fsync'd: ``Spool.put`` is about to return
``journal.tmp_written`` new journal written and fsync'd to a temporary file
``journal.renamed``     journal renamed over the old one, directory not yet fsync'd
``upload.appending``    the append is about to be sent
``upload.appended``     the append is in the object; the journal does not know yet
``upload.journaled``    the journal records the append; the chunk is still queued

A whole-object put passes ``upload.putting`` (about to be sent) and ``upload.put`` (stored,
not yet journaled) instead of the two append points, then ``upload.journaled``.

The recorder adds two points on the source side (:mod:`device.recorder`); a chunk's source
position is committed with the chunk itself, at ``chunk.renamed``:

``source.spooled``      chunk and source position durable; the source not yet told (a
                        directory's segment file is still there)
``source.released``     the source was told (the segment file is removed)

With HLS output, ``source.spooled`` is passed after each segment or playlist is queued;
a playlist carries the recording's position, a segment does not.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["NO_CRASH", "CrashPoints", "NoCrash"]


class CrashPoints(Protocol):
    """Receives the name of each crash point as it is passed."""

    def reached(self, name: str) -> None:
        """Called when execution passes the crash point ``name``."""
        ...


class NoCrash:
    """The production hook: passing a crash point does nothing."""

    def reached(self, name: str) -> None:
        """Do nothing."""
        del name


NO_CRASH = NoCrash()
