"""Settings of one HLS stream: timing, names, playlist mode, encryption.

Object keys are built from the granted prefix and two name patterns with the placeholders
``{stream}``, ``{session}`` and (segments only) ``{seq}``. The session is the stream's
start time by default, so a camera that restarts never overwrites the segments of its
previous recording::

    prefix="videos/cam-0001/", stream="front"
    playlist  videos/cam-0001/front/20260509T073512Z.m3u8
    segments  videos/cam-0001/front/20260509T073512Z/000000.ts, .../000001.ts, ...

A live stream that players should find at a fixed address uses a playlist name without
``{session}`` (``"{stream}/live.m3u8"``); the segments still carry the session.
"""

from __future__ import annotations

import posixpath
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from device.hls.adts import ADTS_SAMPLE_RATES
from schemas import DEVICE_ID_PATTERN

__all__ = ["EncryptionOptions", "HlsOptions", "segment_uri"]

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", re.ASCII)
_SAMPLE_VALUES = {"stream": "s", "session": "20260101T000000Z", "seq": 7}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EncryptionOptions(_Frozen):
    """AES-128 encryption of the segments.

    Attributes:
        device_id: the camera's id (it names the key at the console).
        key_uri_template: the ``EXT-X-KEY`` URI, with ``{device_id}`` and ``{key_id}``.
            Players resolve a path-only URI against the playlist's address, so a path
            works when the console serves the playlists; when players read playlists
            straight from OSS, give the console's absolute URL.
        rotate_every_segments: draw a new key every N segments (``None``: one key per
            stream).
        explicit_iv: write the IV in every ``EXT-X-KEY`` tag (one tag per segment).
            Without it, players derive the same IV from the media sequence number.
    """

    device_id: str = Field(pattern=DEVICE_ID_PATTERN)
    key_uri_template: str = "/api/keys/{device_id}/{key_id}"
    rotate_every_segments: int | None = Field(default=None, ge=1)
    explicit_iv: bool = True

    @field_validator("key_uri_template")
    @classmethod
    def _check_template(cls, value: str) -> str:
        if '"' in value or any(ch in value for ch in "\r\n"):
            raise ValueError("the key URI cannot contain quotes or line breaks")
        if "{key_id}" not in value:
            raise ValueError("the key URI template must contain {key_id}")
        try:
            value.format(device_id="d", key_id="k")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"bad key URI template: {exc}") from None
        return value

    def key_uri(self, key_id: str) -> str:
        """Return the URI players fetch ``key_id`` from."""
        return self.key_uri_template.format(device_id=self.device_id, key_id=key_id)


class HlsOptions(_Frozen):
    """How one stream is cut, named and listed.

    Attributes:
        prefix: the device's granted prefix (``videos/cam-0001/``); every object the stream
            writes lies under it.
        stream: the stream's name (``front``, ``hls``).
        session: names this recording; default: the UTC start time ``YYYYMMDDTHHMMSSZ``.
        segment_name: pattern of segment keys below the prefix; must contain ``{seq}``.
        playlist_name: pattern of the playlist key below the prefix.
        mode: ``live`` (sliding window of ``list_size``) or ``vod`` (every segment, ends
            with ``EXT-X-ENDLIST``).
        target_duration_s: a segment ends at the first IDR picture this long after its start.
        list_size: segments in a live playlist.
        frame_rate: pictures per second (for missing timestamps and the last picture).
        audio_sample_rate: the AAC sample rate; ``None`` for a video-only stream.
        first_sequence: media sequence number of the first segment.
        max_pending_segments: finished segments allowed to wait for storage before
            ``write`` pushes back with ``HlsBackpressureError``.
        encryption: AES-128 settings, ``None`` for clear segments.
    """

    prefix: str
    stream: str = "hls"
    session: str | None = None
    segment_name: str = "{stream}/{session}/{seq:06d}.ts"
    playlist_name: str = "{stream}/{session}.m3u8"
    mode: Literal["live", "vod"] = "live"
    target_duration_s: float = Field(default=2.0, gt=0, le=60)
    list_size: int = Field(default=6, ge=1, le=1000)
    frame_rate: float = Field(default=25.0, gt=0, le=240)
    audio_sample_rate: int | None = None
    first_sequence: int = Field(default=0, ge=0)
    max_pending_segments: int = Field(default=16, ge=1)
    encryption: EncryptionOptions | None = None

    @field_validator("prefix")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        if value and (not value.endswith("/") or value.startswith("/")):
            raise ValueError("the prefix must end with '/' and not start with '/'")
        _check_key_path(value + "x")
        return value

    @field_validator("stream", "session")
    @classmethod
    def _check_name(cls, value: str | None) -> str | None:
        if value is not None and not _NAME_RE.fullmatch(value):
            raise ValueError("names use letters, digits, '.', '_' and '-' (at most 64)")
        if value is not None and value.strip(".") == "":
            raise ValueError("a name cannot be only dots")
        return value

    @field_validator("audio_sample_rate")
    @classmethod
    def _check_rate(cls, value: int | None) -> int | None:
        if value is not None and value not in ADTS_SAMPLE_RATES:
            raise ValueError(f"AAC in ADTS supports {ADTS_SAMPLE_RATES}")
        return value

    @model_validator(mode="after")
    def _check_names(self) -> HlsOptions:
        if "{seq" not in self.segment_name:
            raise ValueError("segment_name must contain {seq}")
        for pattern in (self.segment_name, self.playlist_name):
            try:
                name = pattern.format(**_SAMPLE_VALUES)
            except (KeyError, IndexError, ValueError) as exc:
                raise ValueError(f"bad name pattern {pattern!r}: {exc}") from None
            _check_key_path(name)
        if self.segment_name.format(**_SAMPLE_VALUES) == self.segment_name.format(
            **{**_SAMPLE_VALUES, "seq": 8}
        ):
            raise ValueError("segment_name must give each segment its own name")
        if not self.playlist_name.endswith(".m3u8"):
            raise ValueError("playlist_name must end with .m3u8")
        return self

    def segment_key(self, session: str, sequence: int) -> str:
        """Return the object key of segment ``sequence``."""
        return self.prefix + self.segment_name.format(
            stream=self.stream, session=session, seq=sequence
        )

    def playlist_key(self, session: str) -> str:
        """Return the object key of the playlist."""
        return self.prefix + self.playlist_name.format(stream=self.stream, session=session)


def segment_uri(playlist_key: str, segment_key: str) -> str:
    """Return the segment's URI relative to the playlist's own location."""
    return posixpath.relpath(segment_key, posixpath.dirname(playlist_key) or ".")


def _check_key_path(name: str) -> None:
    if name.startswith("/") or "//" in name or "\\" in name:
        raise ValueError(f"{name!r} is not a clean object key")
    if any(part in (".", "..") for part in name.split("/")):
        raise ValueError(f"{name!r} steps out of its folder")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name):
        raise ValueError(f"{name!r} contains control characters")
