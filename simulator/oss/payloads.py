"""XML request bodies: batch delete, lifecycle, Block Public Access, bucket creation, multipart
completion.

Documents with a DOCTYPE are refused outright (no entity tricks reach the parser); anything
that is not the expected document is MalformedXML, as OSS answers.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from simulator.oss.errors import InvalidArgument, MalformedXML, NotImplementedByEmulator
from simulator.oss.names import check_object_key
from simulator.oss.records import LifecycleRule
from simulator.oss.xmldoc import parse_document

MAX_DELETE_KEYS = 1000
MAX_COMPLETE_PARTS = 10_000
MAX_LIFECYCLE_RULES = 1000
_RULE_ELEMENTS = {"ID", "Prefix", "Status", "Expiration"}
_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T00:00:00(?:\.000)?Z$")


def parse_delete(body: bytes) -> tuple[bool, list[str]]:
    """Parse a DeleteMultipleObjects body.

    Returns:
        (quiet, keys in request order).

    Raises:
        MalformedXML: not a ``<Delete>`` document with 1-1000 ``<Object><Key>`` entries.
        InvalidObjectName: a key breaks the OSS key rules.
    """
    root = parse_document(body, "Delete")
    quiet_text = (root.findtext("Quiet") or "false").strip().lower()
    if quiet_text not in ("true", "false"):
        raise MalformedXML("Quiet must be true or false")
    keys: list[str] = []
    for node in root.findall("Object"):
        key_node = node.find("Key")
        if key_node is None:
            raise MalformedXML("every Object needs a Key")
        keys.append(check_object_key(key_node.text or ""))
    if not keys or len(keys) > MAX_DELETE_KEYS:
        raise MalformedXML(f"between 1 and {MAX_DELETE_KEYS} objects may be deleted at once")
    return quiet_text == "true", keys


def parse_lifecycle(body: bytes) -> tuple[LifecycleRule, ...]:
    """Parse a PutBucketLifecycle body (expiration rules by prefix).

    Raises:
        MalformedXML: not a well-formed ``<LifecycleConfiguration>`` of rules.
        InvalidArgument: a rule value is out of range (Days, Status, duplicate ID ...).
        NotImplemented: a rule uses an action other than Expiration (Transition, Tag ...).
    """
    root = parse_document(body, "LifecycleConfiguration")
    nodes = root.findall("Rule")
    if not nodes or len(nodes) > MAX_LIFECYCLE_RULES or len(nodes) != len(root):
        raise MalformedXML(
            f"a lifecycle configuration holds 1 to {MAX_LIFECYCLE_RULES} Rule elements"
        )
    rules: list[LifecycleRule] = []
    seen: set[str] = set()
    for index, node in enumerate(nodes):
        unknown = {child.tag for child in node} - _RULE_ELEMENTS
        if unknown:
            raise NotImplementedByEmulator(f"Lifecycle rule element {sorted(unknown)[0]}")
        rule_id = node.findtext("ID") or f"rule-{index}"
        if rule_id in seen:
            raise InvalidArgument("Rule ID must be unique.", name="ID", value=rule_id)
        seen.add(rule_id)
        status = node.findtext("Status")
        if status not in ("Enabled", "Disabled"):
            raise MalformedXML("Status must be Enabled or Disabled")
        expiration = node.find("Expiration")
        if expiration is None:
            raise InvalidArgument("A rule needs an Expiration.", name="Rule", value=rule_id)
        days_text = expiration.findtext("Days")
        before_text = expiration.findtext("CreatedBeforeDate") or expiration.findtext("Date")
        days: int | None = None
        before: int | None = None
        if days_text is not None:
            if not days_text.strip().isdigit() or int(days_text) < 1:
                raise InvalidArgument(
                    "Days must be a positive integer.", name="Days", value=days_text
                )
            days = int(days_text)
        elif before_text is not None:
            before = _parse_midnight(before_text)
        else:
            raise MalformedXML("Expiration needs Days or CreatedBeforeDate")
        rules.append(
            LifecycleRule(rule_id, node.findtext("Prefix") or "", status == "Enabled", days, before)
        )
    return tuple(rules)


def parse_create_bucket(body: bytes) -> str:
    """Parse an optional CreateBucketConfiguration body; return the storage class.

    Raises:
        MalformedXML: the body is not a ``<CreateBucketConfiguration>``.
        InvalidArgument: unknown storage class.
    """
    if not body.strip():
        return "Standard"
    root = parse_document(body, "CreateBucketConfiguration")
    storage_class = root.findtext("StorageClass") or "Standard"
    if storage_class not in ("Standard", "IA", "Archive", "ColdArchive", "DeepColdArchive"):
        raise InvalidArgument(
            "Unsupported storage class.", name="StorageClass", value=storage_class
        )
    return storage_class


def _parse_midnight(text: str) -> int:
    match = _DATE_RE.match(text.strip())
    if match is None:
        raise InvalidArgument(
            "The date must be a UTC midnight in ISO 8601.", name="CreatedBeforeDate", value=text
        )
    year, month, day = (int(g) for g in match.groups())
    try:
        return int(datetime(year, month, day, tzinfo=UTC).timestamp())
    except ValueError:
        raise InvalidArgument("Invalid date.", name="CreatedBeforeDate", value=text) from None


def parse_complete(body: bytes) -> list[tuple[int, str]]:
    """Parse a CompleteMultipartUpload body.

    Returns:
        (part number, ETag) in request order.

    Raises:
        MalformedXML: not a ``<CompleteMultipartUpload>`` of 1-10,000 ``<Part>`` entries, each
            with an integer ``<PartNumber>`` and an ``<ETag>``.
    """
    root = parse_document(body, "CompleteMultipartUpload")
    parts: list[tuple[int, str]] = []
    for node in root.findall("Part"):
        number = (node.findtext("PartNumber") or "").strip()
        etag = node.findtext("ETag")
        if not number.isdigit() or etag is None:
            raise MalformedXML("every Part needs a PartNumber and an ETag")
        parts.append((int(number), etag.strip()))
    if not parts or len(parts) > MAX_COMPLETE_PARTS:
        raise MalformedXML(f"between 1 and {MAX_COMPLETE_PARTS} parts may be completed")
    return parts


def parse_public_access_block(body: bytes) -> bool:
    """Parse a PutBucketPublicAccessBlock body.

    Returns:
        Whether Block Public Access is to be on.

    Raises:
        MalformedXML: not a ``<PublicAccessBlockConfiguration>`` with a true/false
            ``<BlockPublicAccess>``.
    """
    root = parse_document(body, "PublicAccessBlockConfiguration")
    value = (root.findtext("BlockPublicAccess") or "").strip().lower()
    if value not in ("true", "false"):
        raise MalformedXML("BlockPublicAccess must be true or false")
    return value == "true"


MAX_TAGS = 10
MAX_TAG_KEY = 128
MAX_TAG_VALUE = 256


def check_tags(tags: list[tuple[str, str]], *, source: str) -> dict[str, str]:
    """OSS's tag rules: at most 10 tags, keys 1-128 and values 0-256 characters, keys unique.

    Raises:
        InvalidArgument: a rule is broken (``source`` names the header or element).
    """
    if len(tags) > MAX_TAGS:
        raise InvalidArgument(
            f"Object tags cannot be greater than {MAX_TAGS}.", name=source, value=str(len(tags))
        )
    result: dict[str, str] = {}
    for key, value in tags:
        if not 1 <= len(key) <= MAX_TAG_KEY or len(value) > MAX_TAG_VALUE or key in result:
            raise InvalidArgument("The tag provided is invalid.", name=source, value=key)
        result[key] = value
    return result


def parse_tagging(body: bytes) -> dict[str, str]:
    """Parse a PutObjectTagging body (``<Tagging><TagSet><Tag><Key/><Value/>``).

    Raises:
        MalformedXML: not a ``<Tagging>`` document of tags with keys.
        InvalidArgument: the tags break OSS's rules.
    """
    root = parse_document(body, "Tagging")
    tag_set = root.find("TagSet")
    tags: list[tuple[str, str]] = []
    for node in tag_set.findall("Tag") if tag_set is not None else []:
        key = node.findtext("Key")
        if key is None:
            raise MalformedXML("every Tag needs a Key")
        tags.append((key, node.findtext("Value") or ""))
    return check_tags(tags, source="Tagging")
