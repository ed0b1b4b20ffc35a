"""The multipart workload of ``ossmedia bench emulator``: one client's uploads, part by part.

Each :meth:`MultipartWriter.write` is one UploadPart (the unit the benchmark counts, like one
append in the append workload); around them the writer initiates an upload, completes it once
it holds ``parts_per_upload`` parts and deletes the object again, so a long run does not fill
the emulator's memory. Every part carries its CRC-64, so oss2 checks the CRC the server
combines for the whole object against its own (a server that returns none is not checked).
"""

from __future__ import annotations

import oss2
from oss2.models import PartInfo


class MultipartWriter:
    """Uploads one key over and over as multipart uploads.

    Args:
        bucket: the client's oss2 bucket.
        key: the object key.
        parts_per_upload: parts per upload before it is completed.
        chunk_crc: CRC-64 of the part bytes (every part is the same chunk).

    Attributes:
        uploads_completed: uploads completed so far.
    """

    def __init__(
        self, bucket: oss2.Bucket, key: str, parts_per_upload: int, chunk_crc: int
    ) -> None:
        self._bucket = bucket
        self._key = key
        self._parts_per_upload = parts_per_upload
        self._chunk_crc = chunk_crc
        self._upload_id: str | None = None
        self._parts: list[PartInfo] = []
        self.uploads_completed = 0

    def write(self, chunk: bytes) -> None:
        """Upload ``chunk`` as the next part (initiating, completing, deleting around it).

        Raises:
            oss2.exceptions.OssError: a request failed (or the combined CRC did not match).
        """
        if self._upload_id is None:
            self._upload_id = self._bucket.init_multipart_upload(self._key).upload_id
        number = len(self._parts) + 1
        result = self._bucket.upload_part(self._key, self._upload_id, number, chunk)
        self._parts.append(PartInfo(number, result.etag, size=len(chunk), part_crc=self._chunk_crc))
        if len(self._parts) == self._parts_per_upload:
            self._bucket.complete_multipart_upload(self._key, self._upload_id, self._parts)
            self._bucket.delete_object(self._key)
            self.uploads_completed += 1
            self._upload_id = None
            self._parts = []
