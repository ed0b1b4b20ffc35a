"""``hls.key``: a camera hands an HLS content key to the cloud over its events channel.

The 16 key bytes travel sealed with AES-256-GCM under the device's ``seal_key``, with
associated data that names the device and the key id, so the broker, other subscribers and
anyone replaying the message elsewhere learn nothing and cannot move the key to another id.
The event is signed like every other event as well, so a receiver rejects a forged or
altered one before it tries to open it.

    aad       = "ossmedia/v1\\nhls.key\\n{device_id}\\n{key_id}"
    sealed    = b64url(nonce12 || AES-256-GCM(seal_key, nonce12, key16, aad))
    canonical = "ossmedia/v1\\nhls.key\\n{device_id}\\n{key_id}\\n{created_ms}\\n{sealed}"

The associated data starts with the kind, so a sealed credential reply (whose associated
data starts ``ossmedia/v1\\ncreds.response``) can never be opened as a content key, nor the
other way round, although both use the same ``seal_key``.
"""

from __future__ import annotations

from schemas.canonical import DOMAIN
from schemas.errors import InvalidMessage, SealError
from schemas.events import CONTENT_KEY_BYTES, HlsKey
from schemas.ids import DeviceId
from schemas.keys import DeviceKeys
from schemas.sealing import seal, unseal
from schemas.signing import sign, verify

__all__ = [
    "HLS_KEY_KIND",
    "build_hls_key",
    "hls_key_aad",
    "hls_key_canonical",
    "open_hls_key",
    "verify_hls_key",
]

HLS_KEY_KIND = "hls.key"

# A well-formed stand-in so the event validates before its real signature is known.
_PLACEHOLDER_SIG = "A" * 43


def _line(value: str) -> str:
    if not isinstance(value, str) or "\n" in value:
        raise InvalidMessage("canonical fields must be strings without newlines")
    return value


def hls_key_aad(*, device_id: str, key_id: str) -> bytes:
    """The associated data a content key's seal binds (UTF-8 bytes).

    ``ossmedia/v1, hls.key, device_id, key_id``.

    Raises:
        InvalidIdentifier: ``device_id`` is not a valid device id.
        InvalidMessage: ``key_id`` holds a newline.
    """
    return "\n".join([DOMAIN, HLS_KEY_KIND, DeviceId(device_id), _line(key_id)]).encode("utf-8")


def hls_key_canonical(ev: HlsKey) -> str:
    """The string an ``hls.key`` event's ``sig`` covers.

    ``ossmedia/v1, hls.key, device_id, key_id, created_ms, sealed``.
    """
    return "\n".join([DOMAIN, HLS_KEY_KIND, ev.device_id, ev.key_id, str(ev.created_ms), ev.sealed])


def build_hls_key(
    keys: DeviceKeys,
    *,
    device_id: str,
    key_id: str,
    created_ms: int,
    key: bytes,
    nonce: bytes | None = None,
) -> HlsKey:
    """Seal a content key and sign the event that carries it.

    Args:
        keys: the camera's keys.
        device_id: the camera.
        key_id: the key's id (32 lowercase hex), as written in the playlist's key URI.
        created_ms: when the key was drawn.
        key: the 16 key bytes.
        nonce: 12-byte GCM nonce; fresh when None (pass one only for test vectors).

    Returns:
        The signed event.

    Raises:
        InvalidMessage: a field is invalid, or ``key`` is not 16 bytes (InvalidIdentifier
            for the device id). The reason never contains the key.
    """
    if not isinstance(key, bytes) or len(key) != CONTENT_KEY_BYTES:
        raise InvalidMessage(f"a content key must be {CONTENT_KEY_BYTES} bytes")
    aad = hls_key_aad(device_id=device_id, key_id=key_id)
    unsigned = HlsKey(
        device_id=DeviceId(device_id),
        key_id=key_id,
        created_ms=created_ms,
        sealed=seal(keys.seal_key, key, aad, nonce),
        sig=_PLACEHOLDER_SIG,
    )
    return unsigned.model_copy(update={"sig": sign(keys.sign_key, hls_key_canonical(unsigned))})


def verify_hls_key(keys: DeviceKeys, ev: HlsKey) -> bool:
    """Check an ``hls.key`` event's signature (do this before opening it)."""
    return verify(keys.sign_key, hls_key_canonical(ev), ev.sig)


def open_hls_key(keys: DeviceKeys, ev: HlsKey) -> bytes:
    """Open the content key an ``hls.key`` event carries.

    Args:
        keys: the sending camera's keys.
        ev: the event (verify its signature first with :func:`verify_hls_key`).

    Returns:
        The 16 key bytes.

    Raises:
        SealError: the seal was tampered with, is bound to another device or key id, or was
            made with another key.
    """
    plaintext = unseal(
        keys.seal_key, ev.sealed, hls_key_aad(device_id=ev.device_id, key_id=ev.key_id)
    )
    if len(plaintext) != CONTENT_KEY_BYTES:  # only a sender holding seal_key can get here
        raise SealError("sealed content key is not 16 bytes")
    return plaintext
