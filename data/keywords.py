"""A keyword-spotting set spoken by eSpeak NG: real synthesised speech, made on the machine, no download.

The classes are Speech Commands' 12 (Warden 2018): ten keywords, ``_silence_`` (background noise only)
and ``_unknown_`` (other words). Every speaker is an eSpeak voice (an English accent with a voice
variant); every take has its own speaking rate, pitch and pitch range, is trimmed, resampled to 16 kHz,
scaled, shifted to a random place in a one-second clip and mixed with background noise (white, pink or
brown) at a random signal-to-noise ratio. Speakers are split once, by position in ``SPEAKERS``: every
``HELDOUT_EVERY``-th is held out, so no held-out voice is ever heard in training.

Written as ``DIR/manifest.csv`` (``path,label,word,speaker,split``) and 16-bit mono WAV files under
``DIR/audio/SPEAKER/``. The same seed and sizes give the same files, byte for byte
(:mod:`.espeak` explains how).
"""

from __future__ import annotations

import csv
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

from supernas.core.errors import NotFoundError, SpecError
from supernas.core.seeds import step_seed
from supernas.data import espeak

KEYWORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
SILENCE, UNKNOWN = "_silence_", "_unknown_"
CLASSES = (*KEYWORDS, SILENCE, UNKNOWN)
UNKNOWN_WORDS = ("bed", "bird", "cat", "dog", "happy", "house", "marvin", "sheila", "tree", "wow")
ACCENTS = (
    "en-us",
    "en",
    "en-gb-scotland",
    "en-gb-x-rp",
    "en-029",
    "en-us-nyc",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
)
VARIANTS = (
    "m1",
    "m2",
    "m3",
    "m4",
    "m5",
    "m6",
    "m7",
    "f1",
    "f2",
    "f3",
    "f4",
    "f5",
    "klatt",
    "klatt2",
    "klatt3",
    "klatt4",
    "Andy",
    "annie",
    "Alicia",
    "Jacky",
    "max",
    "steph",
    "travis",
    "linda",
)
SPEAKERS = tuple(f"{ACCENTS[i % len(ACCENTS)]}+{v}" for i, v in enumerate(VARIANTS))
HELDOUT_EVERY = 4  # speakers 3, 7, 11, ...: a quarter of the voices, never trained on
SAMPLE_RATE = 16000
CLIP_SECONDS = 1.0
MANIFEST = "manifest.csv"


@dataclass(frozen=True)
class Take:
    speaker: int  # index into SPEAKERS
    label: int
    word: str  # the spoken word ("" for silence)
    index: int  # take number of this (speaker, class)
    seed: int

    @property
    def split(self) -> str:
        return "heldout" if self.speaker % HELDOUT_EVERY == HELDOUT_EVERY - 1 else "train"


def _takes(speakers: int, takes: int, seed: int) -> list[Take]:
    out = []
    for s in range(speakers):
        for label, name in enumerate(CLASSES):
            for i in range(takes):
                take_seed = step_seed(seed, s * 10_007 + label * 101 + i) % 2**31  # one stream per take
                rng = np.random.default_rng(take_seed)
                word = "" if name == SILENCE else str(rng.choice(UNKNOWN_WORDS)) if name == UNKNOWN else name
                out.append(Take(s, label, word, i, take_seed))
    return out


def _colored_noise(rng: np.random.Generator, n: int) -> np.ndarray:
    """White, pink (1/f) or brown (1/f^2) noise of unit RMS."""
    alpha = rng.choice([0.0, 1.0, 2.0])
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n)
    f[0] = f[1]
    noise = np.fft.irfft(spectrum / f ** (alpha / 2), n)
    return noise / (np.sqrt(np.mean(noise**2)) + 1e-12)


def _clip(take: Take, speech: np.ndarray | None, rate: int) -> np.ndarray:
    """One augmented one-second clip (float in [-1, 1]) from eSpeak's samples at ``rate`` Hz."""
    rng = np.random.default_rng(take.seed + 1)
    n = round(SAMPLE_RATE * CLIP_SECONDS)
    clip = np.zeros(n)
    rms = 0.0
    if speech is not None and len(speech):
        x = speech.astype(np.float64) / 32768.0
        loud = np.flatnonzero(np.abs(x) > 0.02 * np.abs(x).max())
        x = resample_poly(x[loud[0] : loud[-1] + 1], SAMPLE_RATE, rate)[:n]
        x *= rng.uniform(0.3, 0.9) / (np.abs(x).max() + 1e-12)
        start = int(rng.integers(0, n - len(x) + 1))
        clip[start : start + len(x)] = x
        rms = float(np.sqrt(np.mean(x**2)))
    snr_db = rng.uniform(10.0, 30.0)
    level = rms / 10 ** (snr_db / 20) if rms else rng.uniform(0.005, 0.1)
    return np.clip(clip + level * _colored_noise(rng, n), -1.0, 1.0)


def _request(take: Take) -> dict:
    rng = np.random.default_rng(take.seed + 2)  # the voice's settings: a stream of their own
    return {
        "text": take.word,
        "voice": SPEAKERS[take.speaker],
        "rate": int(rng.integers(120, 221)),
        "pitch": int(rng.integers(20, 81)),
        "range": int(rng.integers(30, 81)),
        "seed": take.seed,
    }


def write_wav(path: Path, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """Float samples in [-1, 1] as 16-bit mono PCM."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(np.round(samples * 32767).astype("<i2").tobytes())


def make_keywords(
    directory: str | Path, speakers: int = len(SPEAKERS), takes: int = 4, seed: int = 0
) -> dict[str, int]:
    """Synthesise the set into ``directory`` (new or empty); returns clips per split."""
    if not HELDOUT_EVERY <= speakers <= len(SPEAKERS):
        raise SpecError(
            f"--speakers {speakers}: allowed {HELDOUT_EVERY}-{len(SPEAKERS)} "
            f"(every {HELDOUT_EVERY}th speaker is held out)"
        )
    if takes < 1:
        raise SpecError(f"--takes {takes}: at least 1 take per speaker and class")
    directory = Path(directory)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise SpecError(f"{directory}: exists and is not an empty directory (nothing is overwritten)")
    plan = _takes(speakers, takes, seed)
    spoken = [t for t in plan if t.word]
    try:
        rate, samples = espeak.synthesize([_request(t) for t in spoken])
    except espeak.ESpeakUnavailable as e:
        raise NotFoundError(str(e)) from None
    speech = dict(zip(spoken, samples))
    counts = {"train": 0, "heldout": 0}
    rows = []
    for take in plan:
        name = CLASSES[take.label]
        rel = Path("audio") / SPEAKERS[take.speaker].replace("+", "_") / f"{name.strip('_')}_{take.index}.wav"
        write_wav(directory / rel, _clip(take, speech.get(take), rate))
        rows.append(
            {
                "path": rel.as_posix(),
                "label": take.label,
                "word": take.word or SILENCE,
                "speaker": SPEAKERS[take.speaker],
                "split": take.split,
            }
        )
        counts[take.split] += 1
    with (directory / MANIFEST).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(
            handle, fieldnames=["path", "label", "word", "speaker", "split"], lineterminator="\n"
        )
        writer.writeheader()
        writer.writerows(rows)
    return counts
