"""HLS recordings in the console: a camera's m3u8 playlist, rewritten for one viewer.

A recording whose object is an ``.m3u8`` playlist is an HLS recording. The browser never
reads the playlist from OSS: the console reads it with its own credentials and serves a
copy in which

- every segment URI is a short-lived presigned V4 GET of that segment, resolved against the
  playlist's key and required to stay under the camera's own prefix;
- every ``EXT-X-KEY`` URI is the console's key endpoint ``/api/keys/{device_id}/{key_id}``
  for the same camera, so keys are only ever fetched from the console, by a signed-in
  operator, whatever address the camera wrote.

Only the tags a camera's media playlist needs pass, and none of them carries a URI
(``_PASSED_TAGS``); ``EXT-X-KEY`` is rewritten as above. Any other tag, above all the
URI-bearing ones (``EXT-X-MAP``, ``EXT-X-PART``, ``EXT-X-PRELOAD-HINT``, ``EXT-X-MEDIA``,
``EXT-X-STREAM-INF``, ``EXT-X-I-FRAME-STREAM-INF``, ``EXT-X-RENDITION-REPORT``,
``EXT-X-SESSION-DATA``, ...), as well as methods other than AES-128 and absolute segment
URLs, makes the playlist unplayable here, never a link to somewhere else. Plain comments
are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from cloud.console.errors import ConsoleError

__all__ = [
    "MAX_PLAYLIST_BYTES",
    "PLAYLIST_CONTENT_TYPE",
    "SEGMENT_CONTENT_TYPE",
    "PlaylistError",
    "is_hls_key",
    "resolve_segment",
    "rewrite_playlist",
]

MAX_PLAYLIST_BYTES = 1 << 20
PLAYLIST_CONTENT_TYPE = "application/vnd.apple.mpegurl"
SEGMENT_CONTENT_TYPE = "video/mp2t"

_KEY_ID = re.compile(r"[0-9a-f]{32}", re.ASCII)
_ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"\r\n]*"|[^,"\r\n]*)(?:,|$)', re.ASCII)
# Tags copied as they are: what ffmpeg's HLS muxer writes into a media playlist, none of
# which names a URI. EXT-X-KEY is handled on its own.
_PASSED_TAGS = frozenset({
    "#EXTM3U", "#EXTINF", "#EXT-X-VERSION", "#EXT-X-TARGETDURATION", "#EXT-X-MEDIA-SEQUENCE",
    "#EXT-X-DISCONTINUITY-SEQUENCE", "#EXT-X-PLAYLIST-TYPE", "#EXT-X-ENDLIST",
    "#EXT-X-DISCONTINUITY", "#EXT-X-PROGRAM-DATE-TIME", "#EXT-X-INDEPENDENT-SEGMENTS",
    "#EXT-X-ALLOW-CACHE", "#EXT-X-BYTERANGE",
})  # fmt: skip


class PlaylistError(ConsoleError):
    """The stored playlist is not one the console can serve (HTTP 502).

    Attributes:
        object_key: the playlist's key.
        reason: what is wrong (no URIs or keys are quoted).
    """

    def __init__(self, object_key: str, reason: str) -> None:
        super().__init__(f"playlist {object_key}: {reason}")
        self.object_key = object_key
        self.reason = reason


def is_hls_key(object_key: str) -> bool:
    """Whether a recording's object is an HLS playlist."""
    return object_key.endswith(".m3u8")


def _resolve(playlist_key: str, uri: str, prefix: str) -> str | None:
    if "://" in uri or uri.startswith(("/", "\\")) or any(ch in uri for ch in "?#\\"):
        return None
    parts = playlist_key.split("/")[:-1]
    for part in uri.split("/"):
        if part in {"", "."}:
            return None
        if part == "..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(part)
    key = "/".join(parts)
    return key if key.startswith(prefix) and len(key.encode("utf-8")) <= 1023 else None


def resolve_segment(playlist_key: str, uri: str, prefix: str) -> str | None:
    """The object key a playlist's segment URI names, or None if it leaves ``prefix``."""
    return _resolve(playlist_key, uri, prefix)


def _attributes(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    position = 0
    while position < len(text):
        match = _ATTRIBUTE.match(text, position)
        if match is None:
            raise ValueError("malformed attribute list")
        found[match.group(1)] = match.group(2)
        position = match.end()
    return found


def _key_tag(line: str, device_id: str, playlist_key: str) -> str:
    try:
        attributes = _attributes(line.removeprefix("#EXT-X-KEY:"))
    except ValueError:
        raise PlaylistError(playlist_key, "malformed EXT-X-KEY") from None
    method = attributes.get("METHOD")
    if method == "NONE":
        return "#EXT-X-KEY:METHOD=NONE"
    if method != "AES-128":
        raise PlaylistError(playlist_key, "only AES-128 keys are served")
    uri = attributes.get("URI", "")
    steps = uri.strip('"').split("?")[0].rstrip("/").split("/")
    if len(steps) < 2 or steps[-2] != device_id or _KEY_ID.fullmatch(steps[-1]) is None:
        raise PlaylistError(playlist_key, "key URI does not name a key of this camera")
    rewritten = f'#EXT-X-KEY:METHOD=AES-128,URI="/api/keys/{device_id}/{steps[-1]}"'
    iv = attributes.get("IV")
    if iv is not None:
        if re.fullmatch(r"0[xX][0-9A-Fa-f]{32}", iv) is None:
            raise PlaylistError(playlist_key, "malformed IV")
        rewritten += f",IV={iv}"
    return rewritten


def rewrite_playlist(
    text: str,
    *,
    playlist_key: str,
    device_id: str,
    device_prefix: str,
    presign: Callable[[str], str],
) -> str:
    """Rewrite a camera's media playlist for playback through the console.

    Args:
        text: the playlist as stored.
        playlist_key: its object key (segment URIs are relative to it).
        device_id: the camera (key URIs must name it).
        device_prefix: the camera's key prefix; every segment must lie under it.
        presign: makes a short-lived GET URL for a segment's object key.

    Returns:
        The playlist to hand to the player.

    Raises:
        PlaylistError: not a media playlist the console serves.
    """
    lines = text.splitlines()
    if not lines or lines[0].strip() != "#EXTM3U":
        raise PlaylistError(playlist_key, "does not start with #EXTM3U")
    out: list[str] = []
    segments = 0
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#EXT-X-KEY:"):
            out.append(_key_tag(line, device_id, playlist_key))
        elif line.startswith("#EXT"):
            tag = line.split(":", 1)[0]
            if tag not in _PASSED_TAGS or not line.isprintable():
                raise PlaylistError(playlist_key, f"unsupported tag {tag[:32]}")
            out.append(line)
        elif line.startswith("#"):
            continue  # a comment: nothing the player needs
        else:
            key = _resolve(playlist_key, line, device_prefix)
            if key is None:
                raise PlaylistError(playlist_key, "segment outside the camera's prefix")
            out.append(presign(key))
            segments += 1
    if segments == 0 and "#EXT-X-ENDLIST" in out:
        raise PlaylistError(playlist_key, "a finished playlist without segments")
    return "\n".join(out) + "\n"
