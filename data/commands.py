"""Data commands: ``supernas data keywords`` makes a spoken keyword-spotting set on the machine."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

commands = typer.Typer()
data_app = typer.Typer(help="Make task data on this machine (no download).", no_args_is_help=True)
commands.add_typer(data_app, name="data")


@data_app.command("keywords")
def keywords_command(
    output: Annotated[
        Path, typer.Option("-o", "--output", help="new or empty directory for manifest.csv and the WAV clips")
    ],
    speakers: Annotated[
        int, typer.Option(help="eSpeak voices (accent + variant), 4-24; every 4th is held out")
    ] = 24,
    takes: Annotated[
        int, typer.Option(help="clips per speaker and class (rate, pitch, shift and noise vary)")
    ] = 4,
    seed: Annotated[int, typer.Option(help="same seed and sizes, same files")] = 0,
) -> None:
    """Synthesise a 12-class keyword-spotting set (Speech Commands' classes) with eSpeak NG: one-second
    16 kHz clips, many voices, speeds and pitches, background noise and time shifts, split by speaker."""
    from supernas.data.keywords import CLASSES, make_keywords

    counts = make_keywords(output, speakers=speakers, takes=takes, seed=seed)
    print(
        f"wrote {output}: {counts['train']:,} training and {counts['heldout']:,} held-out clips "
        f"({len(CLASSES)} classes; the held-out speakers are never in training)"
    )
