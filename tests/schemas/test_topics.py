"""Topic builders, subscription filters and the topic parser."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import Channel, DeviceId, InvalidIdentifier, InvalidMessage, Topics
from tests.schemas.strategies import device_ids

from .test_ids import INVALID


def test_default_topics() -> None:
    topics = Topics()
    assert topics.creds_req("cam-0001") == "ossmedia/v1/cam-0001/creds/req"
    assert topics.creds_res("cam-0001") == "ossmedia/v1/cam-0001/creds/res"
    assert topics.events("cam-0001") == "ossmedia/v1/cam-0001/events"
    assert topics.status("cam-0001") == "ossmedia/v1/cam-0001/status"


def test_subscriptions() -> None:
    topics = Topics(prefix="acme/site-1")
    assert topics.creds_req_subscription(None) == "acme/site-1/v1/+/creds/req"
    assert topics.creds_req_subscription() == "acme/site-1/v1/+/creds/req"
    assert (
        topics.creds_req_subscription("responders")
        == "$share/responders/acme/site-1/v1/+/creds/req"
    )
    assert topics.events_subscription() == "acme/site-1/v1/+/events"
    assert topics.status_subscription() == "acme/site-1/v1/+/status"


@pytest.mark.parametrize("group", ["", "a/b", "+", "#", "a b", "g" * 65, "grüppe", "g\n"])
def test_bad_shared_groups(group: str) -> None:
    with pytest.raises(InvalidIdentifier):
        Topics().creds_req_subscription(group)


@pytest.mark.parametrize("device_id", INVALID)
def test_builders_reject_bad_device_ids(device_id: str) -> None:
    topics = Topics()
    for build in (topics.creds_req, topics.creds_res, topics.events, topics.status):
        with pytest.raises(InvalidIdentifier):
            build(device_id)


@pytest.mark.parametrize("prefix", ["ossmedia", "a", "acme/ossmedia", "a.b/c_d-e", "x" * 64])
def test_good_prefixes(prefix: str) -> None:
    assert Topics(prefix=prefix).prefix == prefix


@pytest.mark.parametrize(
    "prefix",
    [
        "",
        "/ossmedia",
        "ossmedia/",
        "a//b",
        "+",
        "a/+/b",
        "#",
        "a/#",
        "$SYS",
        "$share/g",
        "..",
        "a/../b",
        ".hidden",
        "a b",
        "ossmedia\n",
        "ossmédia",
        "x" * 65,
        "/".join(["abc"] * 40),  # over 128 characters
    ],
)
def test_bad_prefixes(prefix: str) -> None:
    with pytest.raises(InvalidIdentifier):
        Topics(prefix=prefix)


@settings(max_examples=200)
@given(device_ids, st.sampled_from(Channel), st.sampled_from(["ossmedia", "acme/x", "p"]))
def test_parse_inverts_builders(device_id: str, channel: Channel, prefix: str) -> None:
    topics = Topics(prefix=prefix)
    build = {
        Channel.CREDS_REQ: topics.creds_req,
        Channel.CREDS_RES: topics.creds_res,
        Channel.EVENTS: topics.events,
        Channel.STATUS: topics.status,
    }[channel]
    parsed_id, parsed_channel = topics.parse(build(device_id))
    assert (parsed_id, parsed_channel) == (device_id, channel)
    assert type(parsed_id) is DeviceId


@pytest.mark.parametrize(
    "topic",
    [
        "",
        "ossmedia",
        "ossmedia/v1",
        "ossmedia/v1/",
        "ossmedia/v1/cam-0001",
        "ossmedia/v1/cam-0001/",
        "ossmedia/v1/cam-0001/creds",
        "ossmedia/v1/cam-0001/creds/req/extra",
        "ossmedia/v1/cam-0001/status/",
        "ossmedia/v2/cam-0001/status",
        "other/v1/cam-0001/status",
        "ossmedia/v1/+/creds/req",
        "ossmedia/v1/#",
        "ossmedia/v1//creds/req",
        "ossmedia/v1/../creds/req",
        "ossmedia/v1/cam-0001\n/status",
        "ossmedia/v1/cam-0001/status\n",
        "$share/g/ossmedia/v1/cam-0001/creds/req",
        "ossmediaX/v1/cam-0001/status",
    ],
)
def test_parse_rejects(topic: str) -> None:
    with pytest.raises(InvalidMessage):
        Topics().parse(topic)


def test_parse_rejects_non_strings() -> None:
    with pytest.raises(InvalidMessage):
        Topics().parse(b"ossmedia/v1/cam-0001/status")  # type: ignore[arg-type]


@settings(max_examples=300)
@given(st.text(max_size=60) | st.text(max_size=30).map(lambda s: "ossmedia/v1/" + s))
def test_parse_returns_or_raises_invalid_message(topic: str) -> None:
    topics = Topics()
    try:
        device_id, channel = topics.parse(topic)
    except InvalidMessage:
        return
    assert topic == f"ossmedia/v1/{device_id}/{channel.value}"
