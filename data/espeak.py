"""Spoken words from eSpeak NG, driven through its C library (``speak_lib.h``) with ctypes.

The library comes from the ``espeakng-loader`` wheel (``pip install 'supernas[speech]'``: the library and
its voice data, no system package) or, failing that, from a system ``libespeak-ng`` (Debian's
``espeak-ng``). Synthesis is in retrieval mode: ``espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS)``, a
callback that collects the 16-bit samples, and ``espeak_Synth`` returning once the word is spoken.

Why a child process: eSpeak keeps synthesis state between calls (its random generators and wave
generator), so the same word in the same voice comes out differently the second time, even after
``espeak_Terminate``. A fresh process per batch of requests, with both of its random generators seeded
before each word (``espeak_ng_SetRandSeed`` and the C library's ``srand``), gives the same samples for the
same requests in the same order, on every run. This file runs as that child (``python espeak.py``) and
imports nothing of supernas, so the child starts in a fraction of a second.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

AUDIO_OUTPUT_SYNCHRONOUS = 2
POS_CHARACTER = 1
ESPEAK_CHARS_UTF8 = 1
ESPEAK_RATE, ESPEAK_PITCH, ESPEAK_RANGE = 1, 3, 4  # espeak_PARAMETER
EE_OK = 0


class ESpeakUnavailable(RuntimeError):
    """No eSpeak NG library could be loaded."""


def _library() -> tuple[ctypes.CDLL, bytes | None]:
    """The library and the directory holding its ``espeak-ng-data`` (None: the library's own default)."""
    try:
        import espeakng_loader
    except ImportError:
        name = ctypes.util.find_library("espeak-ng")
        if name is None:
            raise ESpeakUnavailable(
                "eSpeak NG is not installed: pip install 'supernas[speech]' (or apt-get install espeak-ng)"
            ) from None
        return ctypes.CDLL(name), None
    return ctypes.CDLL(espeakng_loader.get_library_path()), str(
        Path(espeakng_loader.get_data_path()).parent
    ).encode()


def _synthesize_here(requests: list[dict]) -> tuple[int, list[np.ndarray]]:
    """Run in the child: (sample rate, int16 samples per request)."""
    lib, data_dir = _library()
    callback_type = ctypes.CFUNCTYPE(
        ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
    )
    chunks: list[np.ndarray] = []

    @callback_type
    def collect(
        wav, n, _events
    ) -> int:  # int SynthCallback(short *wav, int numsamples, espeak_EVENT *events)
        if wav and n > 0:
            chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        return 0  # continue synthesis

    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_Synth.argtypes = [
        ctypes.c_char_p,
        ctypes.c_size_t,
        ctypes.c_uint,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.c_uint,
        ctypes.c_void_p,
        ctypes.c_void_p,
    ]
    lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
    rate = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, data_dir, 0)
    if rate <= 0:
        raise ESpeakUnavailable("eSpeak NG failed to initialise (its voice data was not found)")
    lib.espeak_SetSynthCallback(collect)
    libc = ctypes.CDLL(None)
    out = []
    for r in requests:
        if lib.espeak_SetVoiceByName(r["voice"].encode()) != EE_OK:
            raise ESpeakUnavailable(f"eSpeak NG has no voice '{r['voice']}'")
        for parameter, key in ((ESPEAK_RATE, "rate"), (ESPEAK_PITCH, "pitch"), (ESPEAK_RANGE, "range")):
            lib.espeak_SetParameter(parameter, int(r[key]), 0)
        libc.srand(int(r["seed"]))
        lib.espeak_ng_SetRandSeed(int(r["seed"]))
        chunks.clear()
        text = r["text"].encode() + b"\0"
        if lib.espeak_Synth(text, len(text), 0, POS_CHARACTER, 0, ESPEAK_CHARS_UTF8, None, None) != EE_OK:
            raise ESpeakUnavailable(f"eSpeak NG could not speak {r['text']!r}")
        out.append(np.concatenate(chunks) if chunks else np.zeros(0, np.int16))
    return rate, out


def synthesize(requests: list[dict]) -> tuple[int, list[np.ndarray]]:
    """Speak each request (``text``, ``voice`` as eSpeak names it, e.g. ``en-us+f2``, ``rate`` in words per
    minute, ``pitch`` and ``range`` 0-100, ``seed``) in a fresh child process, in order.

    Returns eSpeak's sample rate (22,050 Hz) and one int16 array per request. Raises
    ``ESpeakUnavailable`` with a one-line reason when the library or a voice is missing.
    """
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "speech.npz"
        done = subprocess.run(
            [sys.executable, str(Path(__file__)), str(result)],
            input=json.dumps(requests),
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            lines = done.stderr.strip().splitlines() or ["the synthesis process failed"]
            raise ESpeakUnavailable(lines[-1].split(": ", 1)[-1])
        with np.load(result) as archive:
            return int(archive["rate"]), [archive[f"s{i}"] for i in range(len(requests))]


if __name__ == "__main__":
    sample_rate, samples = _synthesize_here(json.loads(sys.stdin.read()))
    np.savez(sys.argv[1], rate=np.array(sample_rate), **{f"s{i}": s for i, s in enumerate(samples)})
