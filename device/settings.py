"""Settings of the camera agent, grouped by concern.

All models are frozen pydantic models that reject unknown keys. They are built once at the
entry point (``ossmedia camera --config camera.toml`` reads the file through
:func:`device.agent.config.load_settings`) and passed explicitly to each component;
nothing below the entry point reads files or environment variables.

A minimal ``camera.toml``::

    device_id = "cam-0001"
    secret = "<32-byte secret, base64url>"

    [broker]
    url = "mqtts://broker.example.com:8883"
    ca_file = "/etc/ossmedia/ca.pem"

    [spool]
    dir = "/var/lib/ossmedia/spool"
    max_bytes = 2_000_000_000

    [source]
    kind = "directory"
    path = "/var/lib/ossmedia/segments"
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from schemas.broker import BrokerConnection
from schemas.durations import MAX_SESSION_DURATION_S, MIN_SESSION_DURATION_S

__all__ = [
    "AgentSettings",
    "AppendRetrySettings",
    "BrokerSettings",
    "CredentialSettings",
    "OssSettings",
    "OutputSettings",
    "SourceSettings",
    "SpoolSettings",
    "UploadSettings",
]

GIB = 1024**3
# OSS appendable objects stop at 5 GB; roll over well before so the last append of an
# object never fails on the limit.
DEFAULT_MAX_OBJECT_BYTES = 4 * GIB


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BrokerSettings(BrokerConnection):
    """How the camera reaches the MQTT broker (:class:`~schemas.broker.BrokerConnection`).

    An empty ``client_id`` makes the device id the MQTT client id.
    """


class CredentialSettings(_Frozen):
    """How the camera asks for and refreshes credentials.

    Attributes:
        access: the access asked for (``append`` for recording).
        duration_s: lifetime asked for; the responder clamps it.
        refresh_at: refresh when this fraction of the lifetime has passed.
        refresh_jitter: spread of ``refresh_at`` (plus or minus), so a fleet does not refresh
            in lockstep.
        request_timeout_s: how long to wait for a reply before asking again.
        retry_initial_s: first backoff window between unanswered or failed requests.
        retry_max_s: largest backoff window.
        refusals_before_alert: after this many refusals in a row whose signature cannot
            be verified (a wrong or rotated secret, an unknown device id), log an error,
            report ``credentials_refused`` in the status and ask only every
            ``retry_max_s``.
    """

    access: Literal["append", "write", "read"] = "append"
    duration_s: int = Field(
        default=MIN_SESSION_DURATION_S, ge=MIN_SESSION_DURATION_S, le=MAX_SESSION_DURATION_S
    )
    refresh_at: float = Field(default=0.8, gt=0.1, lt=0.95)
    refresh_jitter: float = Field(default=0.05, ge=0, lt=0.1)
    request_timeout_s: float = Field(default=10.0, gt=0)
    retry_initial_s: float = Field(default=1.0, gt=0)
    retry_max_s: float = Field(default=60.0, gt=0)
    refusals_before_alert: int = Field(default=3, ge=1)


class AppendRetrySettings(_Frozen):
    """Bounded retry of one append (tenacity ``wait_random_exponential``).

    Attributes:
        attempts: attempts per append before giving up to the uploader's outage backoff.
        initial_s: first backoff window.
        max_s: largest backoff window.
        request_timeout_s: HTTP connect and read timeout of one OSS request.
    """

    attempts: int = Field(default=6, ge=1, le=100)
    initial_s: float = Field(default=0.2, gt=0)
    max_s: float = Field(default=5.0, gt=0)
    request_timeout_s: float = Field(default=30.0, gt=0)


class SpoolSettings(_Frozen):
    """The on-disk queue between recorder and uploader.

    Attributes:
        dir: spool directory (created if missing); keep it on persistent storage.
        max_bytes: bound on the bytes of queued chunks.
        policy: what happens when full: drop the oldest queued chunks, or reject new data.
        chunk_bytes: size of one spool chunk (and of one append). 1 MiB keeps a fleet's
            request rate low (OSS serves a bucket about 10,000 requests/s); at camera
            bitrates ``chunk_max_age_s`` usually cuts chunks first.
        chunk_max_age_s: a partly filled chunk is written out after this long.
        max_free_fraction: size the spool from its file system at start: at most this
            fraction of the free space (plus what is already queued), when that is less
            than ``max_bytes``. Unset: ``max_bytes`` alone (with a warning at start when
            the free space is smaller). A full file system counts as a full spool either way.
        must_exist: refuse to start when ``dir`` does not exist, instead of creating it
            (an unmounted SD card would otherwise mean spooling to the root file system).
    """

    dir: Path = Path("/var/lib/ossmedia/spool")
    max_bytes: int = Field(default=1 * GIB, ge=64 * 1024)
    max_free_fraction: float | None = Field(default=None, gt=0, le=1)
    must_exist: bool = False
    policy: Literal["drop_oldest", "reject_new"] = "drop_oldest"
    chunk_bytes: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    chunk_max_age_s: float = Field(default=2.0, gt=0)


class UploadSettings(_Frozen):
    """How spooled chunks become objects.

    Attributes:
        rollover_s: start a new object when the recording time covered reaches this.
        max_object_bytes: start a new object before an append would pass this size.
        key_suffix: object key suffix (file extension).
        retry: bounded retry of each append.
        outage_initial_s: first backoff window after an append gave up.
        outage_max_s: largest backoff window while the store is unreachable.
        status_interval_s: how often the retained status is refreshed.
    """

    rollover_s: float = Field(default=600.0, gt=0)
    max_object_bytes: int = Field(default=DEFAULT_MAX_OBJECT_BYTES, ge=1024, lt=5 * GIB)
    key_suffix: str = Field(default=".mp4", pattern=r"^(\.[A-Za-z0-9]{1,8})?$")
    retry: AppendRetrySettings = AppendRetrySettings()
    outage_initial_s: float = Field(default=0.5, gt=0)
    outage_max_s: float = Field(default=5.0, gt=0)
    status_interval_s: float = Field(default=30.0, gt=0)


class OssSettings(_Frozen):
    """Which client talks to the object store.

    Attributes:
        client: ``"oss2"``, Alibaba's SDK (the default); or ``"http"``, the device's own
            client on the standard library (:mod:`device.osshttp`). Both send the same
            requests and raise the same errors; ``"http"`` leaves out oss2, ``requests``
            and the Alibaba SDK modules oss2 imports, for cameras short of memory.
    """

    client: Literal["oss2", "http"] = "oss2"


class SourceSettings(_Frozen):
    """Where the recording comes from.

    Attributes:
        kind: ``file`` (one file), ``stdin``, ``directory`` (segment files in natural name
            order, each removed once spooled) or ``pattern`` (generated bytes). With HLS
            output, ``file`` and ``stdin`` carry H.264 Annex B and ``pattern`` is a
            generated H.264 test pattern (``bitrate_bps`` and ``seed`` do not apply).
        path: the file or directory, for ``file`` and ``directory``.
        bitrate_bps: rate of the generated pattern; for ``file`` and ``stdin``, pace the
            reading at this rate (0 reads as fast as possible).
        duration_s: stop the pattern after this long (``None`` runs until stopped).
        settle_s: a non-empty segment file is complete once unchanged for this long, even
            when no later file exists (the last segment after the encoder stopped); a file
            is complete sooner once a later one appears (:mod:`device.segdir`). Keep it
            above the longest pause between an encoder's writes.
        seed: seed of the generated pattern (same seed, same bytes).
        audio_path: with HLS output and a ``file`` source: AAC in ADTS to mux beside the
            video (``output.audio_sample_rate`` must match it).
    """

    kind: Literal["file", "stdin", "directory", "pattern"] = "pattern"
    path: Path | None = None
    bitrate_bps: int = Field(default=4_000_000, ge=0)
    duration_s: float | None = Field(default=None, gt=0)
    settle_s: float = Field(default=10.0, ge=0)
    seed: int = 0
    audio_path: Path | None = None

    @model_validator(mode="after")
    def _check_path(self) -> SourceSettings:
        if self.kind in {"file", "directory"} and self.path is None:
            raise ValueError(f"source kind {self.kind!r} needs a path")
        if self.kind == "pattern" and self.bitrate_bps == 0:
            raise ValueError("the pattern source needs bitrate_bps > 0")
        return self


_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class OutputSettings(_Frozen):
    """What the camera writes to OSS.

    ``append`` (the default) appends the source's bytes to objects rolled by time and size.
    ``hls`` reads the source as an H.264 Annex B elementary stream and writes MPEG-TS
    segments and an m3u8 playlist (``device.hls``); segments and playlists go through the
    same spool and uploader. Names and timing are checked again when the stream opens.

    Attributes:
        format: ``append`` or ``hls``.
        mode: ``live`` (a sliding window of ``list_size`` segments) or ``vod`` (every
            segment; ``EXT-X-ENDLIST`` when the recording ends).
        stream: the stream's name (first part of every object name).
        session: names one recording; default: the UTC start time to the millisecond, so a
            restarted camera never overwrites the segments of the previous run.
        segment_name: pattern of segment names below the granted prefix.
        playlist_name: pattern of the playlist name below the granted prefix; without
            ``{session}`` players find the live stream at a fixed address.
        target_duration_s: a segment ends at the first key frame this long after its start.
        list_size: segments in a live playlist.
        frame_rate: pictures per second of the source (timestamps are derived from it).
        max_pending_segments: finished segments allowed to wait for a full spool before
            pictures are refused.
        encrypt: encrypt every segment with AES-128; each content key goes to the console
            as a sealed ``hls.key`` event over MQTT before any segment uses it.
        key_uri_template: the ``EXT-X-KEY`` URI players fetch keys from, with
            ``{device_id}`` and ``{key_id}`` (give the console's absolute URL when players
            read playlists straight from OSS).
        rotate_every_segments: draw a new key every N segments (unset: one per recording).
        audio_sample_rate: the AAC sample rate of ``source.audio_path`` (unset: no audio).
    """

    format: Literal["append", "hls"] = "append"
    mode: Literal["live", "vod"] = "live"
    stream: str = Field(default="hls", pattern=_NAME)
    session: str | None = Field(default=None, pattern=_NAME)
    segment_name: str = "{stream}/{session}/{seq:06d}.ts"
    playlist_name: str = "{stream}/{session}.m3u8"
    target_duration_s: float = Field(default=2.0, gt=0, le=60)
    list_size: int = Field(default=6, ge=1, le=1000)
    frame_rate: float = Field(default=25.0, gt=0, le=240)
    max_pending_segments: int = Field(default=16, ge=1)
    encrypt: bool = False
    key_uri_template: str = "/api/keys/{device_id}/{key_id}"
    rotate_every_segments: int | None = Field(default=None, ge=1)
    audio_sample_rate: int | None = None


class AgentSettings(_Frozen):
    """Everything the camera agent needs.

    Attributes:
        device_id: this camera's id (as provisioned).
        secret: this camera's 32-byte secret, base64url (never logged).
        topic_prefix: MQTT topic prefix shared with the responder.
        broker: MQTT broker connection.
        credentials: credential requests and refresh.
        spool: the on-disk queue.
        upload: objects, rollover, retries.
        oss: the object store client.
        source: the recording source.
        output: appendable objects or HLS.
    """

    device_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{1,31}$")
    secret: SecretStr
    topic_prefix: str = Field(default="ossmedia", min_length=1)
    broker: BrokerSettings = BrokerSettings()
    credentials: CredentialSettings = CredentialSettings()
    spool: SpoolSettings = SpoolSettings()
    upload: UploadSettings = UploadSettings()
    oss: OssSettings = OssSettings()
    source: SourceSettings = SourceSettings()
    output: OutputSettings = OutputSettings()

    @model_validator(mode="after")
    def _check_output(self) -> AgentSettings:
        if self.output.format == "hls" and self.source.kind == "directory":
            raise ValueError(
                'output.format = "hls" reads one H.264 stream: source.kind must be "file",'
                ' "stdin" or "pattern", not "directory"'
            )
        audio = self.source.audio_path is not None
        if audio and (self.output.format != "hls" or self.source.kind != "file"):
            raise ValueError("source.audio_path goes with HLS output from a file source")
        if audio != (self.output.audio_sample_rate is not None):
            raise ValueError("source.audio_path and output.audio_sample_rate go together")
        return self
