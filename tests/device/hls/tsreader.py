"""An independent MPEG-TS reader for the tests: packets, PSI tables, PES units.

Written from the standard's field layouts, not from the muxer's code, so the tests check
the muxer against the format rather than against itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PACKET = 188


@dataclass
class Packet:
    pid: int
    pusi: bool
    cc: int
    has_payload: bool
    has_adaptation: bool
    random_access: bool
    pcr: int | None  # 27 MHz
    payload: bytes
    adaptation_length: int


def read_packets(data: bytes) -> list[Packet]:
    assert len(data) % PACKET == 0, "stream is not a whole number of packets"
    packets = []
    for off in range(0, len(data), PACKET):
        p = data[off : off + PACKET]
        assert p[0] == 0x47, f"lost sync at {off}"
        assert not p[1] & 0x80, "transport_error_indicator set"
        pid = ((p[1] & 0x1F) << 8) | p[2]
        control = (p[3] >> 4) & 0x03
        assert p[3] & 0xC0 == 0, "scrambling bits set"
        pos = 4
        random_access = False
        pcr = None
        af_len = -1
        if control & 0x02:
            af_len = p[4]
            pos = 5 + af_len
            assert pos <= PACKET
            if af_len > 0:
                flags = p[5]
                random_access = bool(flags & 0x40)
                if flags & 0x10:
                    raw = int.from_bytes(p[6:12], "big")
                    base, ext = raw >> 15, raw & 0x1FF
                    assert (raw >> 9) & 0x3F == 0x3F, "PCR reserved bits"
                    pcr = base * 300 + ext
                stuffing = p[6 + (6 if flags & 0x10 else 0) : 5 + af_len]
                assert set(stuffing) <= {0xFF}, "adaptation stuffing is not 0xFF"
        packets.append(
            Packet(
                pid=pid,
                pusi=bool(p[1] & 0x40),
                cc=p[3] & 0x0F,
                has_payload=bool(control & 0x01),
                has_adaptation=bool(control & 0x02),
                random_access=random_access,
                pcr=pcr,
                payload=bytes(p[pos:]) if control & 0x01 else b"",
                adaptation_length=af_len,
            )
        )
    return packets


def crc32_mpeg2_bitwise(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        for bit in range(7, -1, -1):
            top = ((crc >> 31) & 1) ^ ((byte >> bit) & 1)
            crc = ((crc << 1) & 0xFFFFFFFF) ^ (0x04C11DB7 if top else 0)
    return crc


@dataclass
class Section:
    table_id: int
    extension: int
    body: bytes


def read_section(payload: bytes) -> Section:
    pointer = payload[0]
    sec = payload[1 + pointer :]
    table_id = sec[0]
    assert sec[1] & 0x80, "section_syntax_indicator"
    length = ((sec[1] & 0x0F) << 8) | sec[2]
    whole = sec[: 3 + length]
    assert crc32_mpeg2_bitwise(whole) == 0, "section CRC"
    assert set(sec[3 + length :]) <= {0xFF}
    return Section(table_id, int.from_bytes(whole[3:5], "big"), whole[8:-4])


@dataclass
class Pes:
    pid: int
    stream_id: int
    pts: int | None
    dts: int | None
    data_alignment: bool
    declared_length: int
    payload: bytes
    random_access: bool
    pcr: int | None
    packets: list[Packet] = field(default_factory=list)

    @property
    def decoding_time(self) -> int:
        """DTS, or PTS when the header carries no separate DTS."""
        value = self.dts if self.dts is not None else self.pts
        assert value is not None
        return value


def decode_ts(field5: bytes) -> int:
    assert all(field5[i] & 1 for i in (0, 2, 4)), "marker bits"
    return (
        ((field5[0] >> 1) & 0x07) << 30
        | field5[1] << 22
        | (field5[2] >> 1) << 15
        | field5[3] << 7
        | field5[4] >> 1
    )


def read_pes(packets: list[Packet], pid: int) -> list[Pes]:
    units: list[list[Packet]] = []
    for pkt in packets:
        if pkt.pid != pid or not pkt.has_payload:
            continue
        if pkt.pusi:
            units.append([pkt])
        else:
            assert units, "payload before the first unit start"
            units[-1].append(pkt)
    out = []
    for unit in units:
        raw = b"".join(p.payload for p in unit)
        assert raw[:3] == b"\x00\x00\x01", "PES start code"
        stream_id = raw[3]
        declared = int.from_bytes(raw[4:6], "big")
        assert raw[6] & 0xC0 == 0x80
        flags = raw[7] >> 6
        hlen = raw[8]
        pts = dts = None
        if flags & 0x02:
            pts = decode_ts(raw[9:14])
            assert raw[9] >> 4 == (0b0011 if flags == 0x03 else 0b0010)
        if flags == 0x03:
            dts = decode_ts(raw[14:19])
            assert raw[14] >> 4 == 0b0001
        payload = raw[9 + hlen :]
        if declared:
            assert declared == len(raw) - 6, "PES_packet_length"
        out.append(
            Pes(
                pid=pid,
                stream_id=stream_id,
                pts=pts,
                dts=dts,
                data_alignment=bool(raw[6] & 0x04),
                declared_length=declared,
                payload=payload,
                random_access=unit[0].random_access,
                pcr=unit[0].pcr,
                packets=unit,
            )
        )
    return out


def check_continuity(packets: list[Packet]) -> None:
    last: dict[int, int] = {}
    for pkt in packets:
        if not pkt.has_payload:
            continue
        if pkt.pid in last:
            assert pkt.cc == (last[pkt.pid] + 1) % 16, f"CC gap on PID {pkt.pid:#x}"
        last[pkt.pid] = pkt.cc
