"""The trial page's architecture view names a speech subnet's front end (the part every subnet shares)."""

from __future__ import annotations

from supernas.dashboard.archview import front_end_line
from supernas.spaces.spec import load_spec


def test_speech_front_end_line_states_hubert_framing():
    line = front_end_line(load_spec("hubert-base"), 640)
    for fact in (
        "16 kHz waveform",
        "7 convolutions",
        "512 channels",
        "20 ms frames (49 per clip)",
        "projection to 640",
        "kernel 128",
    ):
        assert fact in line
    assert front_end_line(load_spec("gpt-tiny"), 64) is None
