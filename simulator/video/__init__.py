"""Video for simulated cameras: a real H.264 test pattern in fMP4, or synthetic bytes."""

from simulator.video.testpattern import (
    PatternSettings,
    SyntheticSource,
    encode_test_pattern,
    video_available,
)

__all__ = ["PatternSettings", "SyntheticSource", "encode_test_pattern", "video_available"]
