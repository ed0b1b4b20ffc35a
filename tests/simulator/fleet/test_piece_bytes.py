"""Synthetic fleet bytes: exact sizes, repeatable runs, no two pieces alike."""

from __future__ import annotations

import pytest

from simulator.fleet.camera import PieceBytes

SIZES = [0, 1, 32, 33, 65536, PieceBytes.POOL_BYTES + 4097, 3 * PieceBytes.POOL_BYTES]


def _pieces(camera: str, seed: int, sizes: list[int]) -> list[bytes]:
    source = PieceBytes(camera, seed)
    return [source.read(size) for size in sizes]


@pytest.mark.parametrize("size", SIZES)
def test_pieces_have_the_size_asked_for(size: int) -> None:
    assert len(PieceBytes("cam-0001", 1).read(size)) == size


def test_a_run_repeats_exactly() -> None:
    assert _pieces("cam-0001", 7, SIZES) == _pieces("cam-0001", 7, SIZES)


def test_pieces_differ_between_numbers_cameras_and_seeds() -> None:
    sizes = [65536] * 50
    runs = [
        _pieces("cam-0001", 1, sizes),
        _pieces("cam-0002", 1, sizes),
        _pieces("cam-0001", 2, sizes),
    ]
    every = [piece for run in runs for piece in run]
    assert len(set(every)) == len(every)
    # the tag alone already tells pieces apart, so a misplaced piece fails its SHA-256
    assert len({piece[: PieceBytes.TAG_BYTES] for piece in every}) == len(every)


def test_the_body_is_not_a_constant_fill() -> None:
    piece = PieceBytes("cam-0001", 1).read(65536)
    assert len(set(piece[PieceBytes.TAG_BYTES :])) > 200
