"""XML request bodies' common first step: refuse DTDs, parse, check the root element.

Documents with a DOCTYPE or ENTITY declaration are refused before the parser sees them, so no
entity tricks reach it; anything else that is not the expected document is MalformedXML, as
OSS answers. The bodies' own schemas are in :mod:`simulator.oss.payloads` and
:mod:`simulator.oss.cors`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from simulator.oss.errors import MalformedXML


def parse_document(body: bytes, root_tag: str) -> ET.Element:
    """Parse an XML request body whose root must be ``<root_tag>``.

    Raises:
        MalformedXML: a DOCTYPE or ENTITY declaration, XML that does not parse, or another root.
    """
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise MalformedXML("document type declarations are not allowed")
    try:
        # DTDs are refused above; what remains is plain elements and text.
        root = ET.fromstring(body)  # noqa: S314
    except ET.ParseError as exc:
        raise MalformedXML(str(exc)) from None
    if root.tag != root_tag:
        raise MalformedXML(f"expected <{root_tag}>")
    return root
