"""The audio part of a speech space's spec: waveform format and the convolutional front end's shape.

A speech space reads mono waveforms at ``sample_rate`` Hz, at most ``max_seconds`` long (shorter clips
are zero-padded to that length, as keyword-spotting corpora pad their one-second clips). HuBERT's
feature encoder turns them into frames: ``conv_layers`` lists its convolutions as (channels, kernel,
stride), no padding, so the frame count follows from the lengths alone. ``pos_conv_kernel`` is the width
of the convolutional relative position embedding over frames.

Kept apart from :mod:`.spec` (which imports it) so speech code can use it without the rest of the spec.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class AudioSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sample_rate: int = Field(default=16000, gt=0)
    max_seconds: float = Field(gt=0, le=600)
    conv_layers: list[tuple[int, int, int]] = Field(
        description="feature encoder convolutions: (channels, kernel, stride)"
    )
    pos_conv_kernel: int = Field(default=128, gt=0)

    @field_validator("conv_layers")
    @classmethod
    def _positive(cls, v: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
        if not v:
            raise ValueError("conv_layers needs at least one (channels, kernel, stride) layer")
        bad = [layer for layer in v if min(layer) <= 0]
        if bad:
            raise ValueError(
                f"conv_layers entries must be positive (channels, kernel, stride), got {list(bad[0])}"
            )
        return v

    @model_validator(mode="after")
    def _long_enough(self) -> AudioSpec:
        if self.frames(self.max_samples) < 1:
            raise ValueError(
                f"max_seconds {self.max_seconds} is shorter than the feature encoder's receptive field"
            )
        return self

    @property
    def max_samples(self) -> int:
        return round(self.sample_rate * self.max_seconds)

    @property
    def conv_dim(self) -> int:
        """Channels of the feature encoder's output (what the projection to the embedding reads)."""
        return self.conv_layers[-1][0]

    def frame_lengths(self, samples: int) -> list[int]:
        """Output length of each convolution for ``samples`` input samples (no padding)."""
        lengths = []
        for _, kernel, stride in self.conv_layers:
            samples = (samples - kernel) // stride + 1 if samples >= kernel else 0
            lengths.append(samples)
        return lengths

    def frames(self, samples: int) -> int:
        """Frames the transformer sees for ``samples`` samples of audio."""
        return self.frame_lengths(samples)[-1]

    def summary(self) -> str:
        """One line for people: input format, feature encoder and frame rate."""
        stride = 1
        for _, _, s in self.conv_layers:
            stride *= s
        return (
            f"{self.sample_rate / 1000:g} kHz waveform, up to {self.max_seconds:g} s · "
            f"{len(self.conv_layers)} convolutions, "
            f"{self.conv_dim} channels, {1000 * stride / self.sample_rate:g} ms frames "
            f"({self.frames(self.max_samples)} per clip)"
        )
