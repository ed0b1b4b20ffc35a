"""OSS wire errors: every failure the OSS emulator answers with an ``<Error>`` document.

Tree::

    EmulatorError                       simulator.base.errors
    └── OssError                        code + message + HTTP status + extra XML elements/headers
        ├── AccessDenied                403  (anonymous request, policy denial, expired presign ...)
        ├── SignatureDoesNotMatch       403  (carries the server's StringToSign)
        ├── RequestTimeTooSkewed        403  (request time more than 15 minutes off)
        ├── InvalidArgument             400  (carries ArgumentName / ArgumentValue)
        ├── MalformedXML                400
        ├── InvalidDigest               400  (Content-MD5 missing, unreadable or not matching)
        ├── InvalidObjectName           400
        ├── InvalidBucketName           400
        ├── EntityTooLarge              400  (request body over the limit)
        ├── EntityTooSmall              400  (a multipart part but the last under 100 KB)
        ├── InvalidPart                 400  (a listed part missing or with another ETag)
        ├── InvalidPartOrder            400  (parts not listed in ascending order)
        ├── MissingContentLength        411
        ├── NoSuchBucket                404
        ├── NoSuchKey                   404
        ├── NoSuchLifecycle             404
        ├── NoSuchUpload                404  (unknown, aborted or completed upload id)
        ├── SymlinkTargetNotExist       404  (a symlink read whose target is gone)
        ├── NotSymlink                  400  (GetSymlink on an object that is not one)
        ├── MethodNotAllowed            405
        ├── BucketAlreadyExists         409
        ├── BucketNotEmpty              409
        ├── FileAlreadyExists           409  (x-oss-forbid-overwrite and the key exists)
        ├── PositionNotEqualToLength    409  (+ header x-oss-next-append-position)
        ├── ObjectNotAppendable         409
        ├── ObjectSizeTooLarge          409  (an append would grow the object past its limit)
        ├── NotModified                 304  (conditional GET/HEAD; no body)
        ├── PreconditionFailed          412  (If-Match / If-Unmodified-Since)
        ├── InvalidRange                416  (only with ``x-oss-range-behavior: standard``)
        ├── NotImplemented              501  (an OSS sub-resource this emulator does not serve)
        └── InternalError               500  (a bug; logged with a traceback)

Every error may carry an EC (error-code detail, ``0026-00000001``) that real OSS sends in the
``x-oss-ec`` header and an ``<EC>`` element (oss2 exposes it as ``e.ec``), with a
``<RecommendDoc>`` link; a class declares its documented EC as ``EC``, and a raise site that
knows a more specific one passes ``ec=``. Errors whose EC OSS does not document carry none.

Codes and statuses are the ones real OSS sends, because ``oss2`` picks its exception class
by the exact ``(status, code)`` pair. Real OSS documents no code for an append that would
pass the 5 GiB appendable-object limit; this emulator answers ``409 ObjectSizeTooLarge``
(a conflict with the object's state, like the other append errors). Messages never contain
secrets: no access key secret, no security token, no signature of a valid request.
"""

from __future__ import annotations

from collections.abc import Mapping

from simulator.base.errors import EmulatorError


class OssError(EmulatorError):
    """An OSS error answered on the wire as an ``<Error>`` XML document.

    Args:
        code: the OSS error code (``NoSuchKey``, ``AccessDenied`` ...).
        message: the human-readable ``<Message>``.
        http_status: the HTTP status of the response.
        elements: extra child elements of ``<Error>`` (``Key``, ``BucketName``, ``StringToSign`` ...),
            in order.
        headers: extra response headers (``x-oss-next-append-position`` ...).
        ec: the error-code detail; the class's documented ``EC`` when not given.
    """

    EC: str | None = None

    def __init__(
        self,
        code: str,
        message: str,
        http_status: int,
        *,
        elements: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        ec: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.http_status = http_status
        self.elements: dict[str, str] = dict(elements or {})
        self.headers: dict[str, str] = dict(headers or {})
        self.ec = ec or self.EC

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, http_status={self.http_status})"


class AccessDenied(OssError):
    """403 AccessDenied (``ec=`` names the documented detail where one is known)."""

    def __init__(
        self, message: str = "AccessDenied", *, ec: str | None = None, **elements: str
    ) -> None:
        super().__init__("AccessDenied", message, 403, elements=elements, ec=ec)


class SignatureDoesNotMatch(OssError):
    """403 SignatureDoesNotMatch, with what the server signed so a client can compare.

    Args:
        string_to_sign: the server's StringToSign (decoded as UTF-8, invalid bytes replaced).
        access_key_id: the key id the request named.
        signature_provided: the signature the request carried.
        canonical_request: for V4, the canonical request the StringToSign hashes.
    """

    EC = "0002-00000040"

    def __init__(
        self,
        string_to_sign: bytes,
        *,
        access_key_id: str,
        signature_provided: str,
        canonical_request: bytes | None = None,
    ) -> None:
        elements = {
            "OSSAccessKeyId": access_key_id,
            "SignatureProvided": signature_provided,
            "StringToSign": string_to_sign.decode("utf-8", "replace"),
            "StringToSignBytes": " ".join(f"{b:02X}" for b in string_to_sign),
        }
        if canonical_request is not None:
            elements["CanonicalRequest"] = canonical_request.decode("utf-8", "replace")
        super().__init__(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
            403,
            elements=elements,
        )
        self.string_to_sign = string_to_sign


class RequestTimeTooSkewed(OssError):
    """403 RequestTimeTooSkewed: the request's time is too far from the server's clock."""

    def __init__(self, *, request_time: str, server_time: str, max_skew_ms: int) -> None:
        super().__init__(
            "RequestTimeTooSkewed",
            "The difference between the request time and the current time is too large.",
            403,
            elements={
                "RequestTime": request_time,
                "ServerTime": server_time,
                "MaxAllowedSkewMilliseconds": str(max_skew_ms),
            },
        )


class InvalidArgument(OssError):
    """400 InvalidArgument naming the offending argument (oss2 exposes name and value)."""

    def __init__(self, message: str, *, name: str, value: str, ec: str | None = None) -> None:
        super().__init__(
            "InvalidArgument",
            message,
            400,
            elements={"ArgumentName": name, "ArgumentValue": value},
            ec=ec,
        )


class MalformedXML(OssError):
    """400 MalformedXML: a request body that is not the XML document the operation takes."""

    def __init__(self, detail: str = "") -> None:
        message = "The XML you provided was not well-formed or did not validate against our published schema."
        super().__init__(
            "MalformedXML", message, 400, elements={"ErrorDetail": detail} if detail else None
        )


class InvalidDigest(OssError):
    """400 InvalidDigest: Content-MD5 does not match the body (or cannot be read)."""

    def __init__(self, message: str = "The Content-MD5 you specified was invalid.") -> None:
        super().__init__("InvalidDigest", message, 400)


class InvalidObjectName(OssError):
    """400 InvalidObjectName: a key OSS does not accept."""

    def __init__(self, reason: str) -> None:
        super().__init__("InvalidObjectName", f"The specified object is not valid: {reason}.", 400)


class InvalidBucketName(OssError):
    """400 InvalidBucketName."""

    def __init__(self, bucket: str) -> None:
        super().__init__(
            "InvalidBucketName",
            "The specified bucket is not valid.",
            400,
            elements={"BucketName": bucket},
        )


class EntityTooLarge(OssError):
    """400 EntityTooLarge: the request body is larger than the operation allows."""

    def __init__(self, *, max_size: int, proposed_size: int | None = None) -> None:
        elements = {"MaxSizeAllowed": str(max_size)}
        if proposed_size is not None:
            elements["ProposedSize"] = str(proposed_size)
        super().__init__(
            "EntityTooLarge",
            "Your proposed upload exceeds the maximum allowed size.",
            400,
            elements=elements,
        )


class EntityTooSmall(OssError):
    """400 EntityTooSmall: a part of a multipart upload, not the last, is under the minimum."""

    def __init__(self, *, min_size: int, proposed_size: int, part_number: int) -> None:
        super().__init__(
            "EntityTooSmall",
            "Your proposed upload smaller than the minimum allowed size.",
            400,
            elements={
                "MinSizeAllowed": str(min_size),
                "ProposedSize": str(proposed_size),
                "PartNumber": str(part_number),
            },
        )


class InvalidPart(OssError):
    """400 InvalidPart: a listed part was never uploaded or its ETag differs."""

    def __init__(self, part_number: int, etag: str) -> None:
        super().__init__(
            "InvalidPart",
            "One or more of the specified parts could not be found or the specified entity "
            "tag might not have matched the part's entity tag.",
            400,
            elements={"PartNumber": str(part_number), "ETag": etag},
        )


class InvalidPartOrder(OssError):
    """400 InvalidPartOrder: the part list is not in ascending part-number order."""

    def __init__(self) -> None:
        super().__init__(
            "InvalidPartOrder",
            "The list of parts was not in ascending order. Parts list must specified in "
            "order by part number.",
            400,
        )


class NoSuchUpload(OssError):
    """404 NoSuchUpload: the upload id is unknown, or the upload was aborted or completed."""

    EC = "0042-00000104"

    def __init__(self, upload_id: str) -> None:
        super().__init__(
            "NoSuchUpload",
            "The specified upload does not exist. The upload ID may be invalid, or the upload "
            "may have been aborted or completed.",
            404,
            elements={"UploadId": upload_id},
        )


class MissingContentLength(OssError):
    """411 MissingContentLength: a body-carrying request with neither length nor chunking."""

    def __init__(self) -> None:
        super().__init__(
            "MissingContentLength", "You must provide the Content-Length HTTP header.", 411
        )


class SymlinkTargetNotExist(OssError):
    """404 SymlinkTargetNotExist: the object a symlink points to does not exist."""

    def __init__(self, key: str, target: str) -> None:
        super().__init__(
            "SymlinkTargetNotExist",
            "The symlink target object does not exist.",
            404,
            elements={"Key": key, "SymlinkTarget": target},
        )


class NotSymlink(OssError):
    """400 NotSymlink: GetSymlink on an object that is not a symlink."""

    def __init__(self, key: str) -> None:
        super().__init__(
            "NotSymlink", "The specified object is not a symlink.", 400, elements={"Key": key}
        )


class NoSuchBucket(OssError):
    """404 NoSuchBucket."""

    def __init__(self, bucket: str) -> None:
        super().__init__(
            "NoSuchBucket",
            "The specified bucket does not exist.",
            404,
            elements={"BucketName": bucket},
        )


class NoSuchKey(OssError):
    """404 NoSuchKey."""

    EC = "0026-00000001"

    def __init__(self, key: str) -> None:
        super().__init__(
            "NoSuchKey", "The specified key does not exist.", 404, elements={"Key": key}
        )


class NoSuchLifecycle(OssError):
    """404 NoSuchLifecycle: the bucket has no lifecycle configuration."""

    def __init__(self, bucket: str) -> None:
        super().__init__(
            "NoSuchLifecycle",
            "No Row found in Lifecycle Table.",
            404,
            elements={"BucketName": bucket},
        )


class MethodNotAllowed(OssError):
    """405 MethodNotAllowed: the HTTP method makes no sense on this resource."""

    def __init__(self, method: str, resource_type: str) -> None:
        super().__init__(
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
            405,
            elements={"Method": method, "ResourceType": resource_type},
        )


class BucketAlreadyExists(OssError):
    """409 BucketAlreadyExists."""

    def __init__(self, bucket: str) -> None:
        super().__init__(
            "BucketAlreadyExists",
            "The requested bucket name is not available.",
            409,
            elements={"BucketName": bucket},
        )


class BucketNotEmpty(OssError):
    """409 BucketNotEmpty."""

    def __init__(self, bucket: str) -> None:
        super().__init__(
            "BucketNotEmpty",
            "The bucket you tried to delete is not empty.",
            409,
            elements={"BucketName": bucket},
        )


class PositionNotEqualToLength(OssError):
    """409 PositionNotEqualToLength; the header tells the client the object's current length.

    Args:
        next_position: the object's current length (0 when the object does not exist).
    """

    def __init__(self, next_position: int) -> None:
        super().__init__(
            "PositionNotEqualToLength",
            "Position is not equal to file length",
            409,
            headers={"x-oss-next-append-position": str(next_position)},
        )
        self.next_position = next_position


class FileAlreadyExists(OssError):
    """409 FileAlreadyExists: ``x-oss-forbid-overwrite: true`` and the key exists."""

    def __init__(self, key: str) -> None:
        super().__init__(
            "FileAlreadyExists",
            "The object you specified already exists and can not be overwritten.",
            409,
            elements={"Key": key},
        )


class ObjectNotAppendable(OssError):
    """409 ObjectNotAppendable: append to a Normal object."""

    def __init__(self) -> None:
        super().__init__("ObjectNotAppendable", "The object is not appendable", 409)


class ObjectSizeTooLarge(OssError):
    """409 ObjectSizeTooLarge: the append would grow the object past the appendable limit.

    Args:
        max_size: the limit in bytes.
        current_size: the object's current length (also sent as x-oss-next-append-position).
    """

    def __init__(self, *, max_size: int, current_size: int) -> None:
        super().__init__(
            "ObjectSizeTooLarge",
            "The object would exceed the maximum size of an appendable object.",
            409,
            elements={"MaxSizeAllowed": str(max_size)},
            headers={"x-oss-next-append-position": str(current_size)},
        )


class NotModified(OssError):
    """304 Not Modified (conditional GET/HEAD); sent without a body."""

    def __init__(self, etag: str) -> None:
        super().__init__("NotModified", "Not Modified", 304, headers={"ETag": f'"{etag}"'})


class PreconditionFailed(OssError):
    """412 PreconditionFailed: If-Match or If-Unmodified-Since excluded the object."""

    def __init__(self, condition: str) -> None:
        super().__init__(
            "PreconditionFailed",
            "At least one of the pre-conditions you specified did not hold.",
            412,
            elements={"Condition": condition},
        )


class InvalidRange(OssError):
    """416 InvalidRange (standard range behaviour only)."""

    def __init__(self, *, requested: str, size: int) -> None:
        super().__init__(
            "InvalidRange",
            "The requested range cannot be satisfied",
            416,
            elements={"RangeRequested": requested, "ActualObjectSize": str(size)},
            headers={"Content-Range": f"bytes */{size}"},
        )


class NotImplementedByEmulator(OssError):
    """501 NotImplemented: a real OSS feature this emulator does not serve."""

    def __init__(self, what: str) -> None:
        super().__init__("NotImplemented", f"{what} is not implemented by this OSS emulator.", 501)


class InternalError(OssError):
    """500 InternalError: an unexpected failure inside the emulator."""

    def __init__(self) -> None:
        super().__init__(
            "InternalError", "We encountered an internal error. Please try again.", 500
        )
