"""Settings of the OSS emulator (frozen; built once at the entry point and passed down)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

GIB = 1024**3


class OssSettings(BaseModel):
    """How the OSS emulator behaves.

    Attributes:
        region: the region the emulator serves; V4 signatures must be scoped to it.
        base_host: the endpoint host name (no port). ``<bucket>.<base_host>`` is addressed
            virtual-host style; the base host itself, IP literals, ``localhost`` and
            ``path_style_hosts`` are addressed path-style (``/<bucket>/<key>``).
        path_style_hosts: further host names addressed path-style.
        max_object_size: largest PutObject body (real OSS: 5 GiB).
        max_append_object_size: largest size an appendable object may reach (real OSS: 5 GiB).
        max_xml_body: largest XML request body (batch delete, lifecycle, create bucket).
        max_clock_skew_s: header-signed requests further than this from the server clock fail
            with RequestTimeTooSkewed (real OSS: 15 minutes).
        max_presign_expires_s: longest validity a V4 presigned URL may ask for (7 days).
        max_drain_bytes: when a request fails before its body was read, bodies up to this size
            are read and discarded so the client sees the error; larger ones close the connection.
        read_chunk_size: size of the chunks a GetObject body is streamed in.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    region: str = "cn-hangzhou"
    base_host: str = "oss-cn-hangzhou.aliyuncs.com"
    path_style_hosts: tuple[str, ...] = ()
    max_object_size: int = Field(default=5 * GIB, gt=0)
    max_append_object_size: int = Field(default=5 * GIB, gt=0)
    max_xml_body: int = Field(default=2 * 1024 * 1024, gt=0)
    max_clock_skew_s: float = Field(default=900.0, gt=0)
    max_presign_expires_s: int = Field(default=7 * 24 * 3600, gt=0)
    max_drain_bytes: int = Field(default=16 * 1024 * 1024, ge=0)
    read_chunk_size: int = Field(default=1024 * 1024, gt=0)
