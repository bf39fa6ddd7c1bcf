"""The speech front end: HuBERT's convolutional feature encoder and convolutional position embedding.

A speech space's transformer reads frames, not tokens. ``SpeechFrontEnd`` makes them from a waveform
(B, samples): the feature encoder (``spec.audio.conv_layers``; no padding, no bias, GroupNorm after the
first convolution, GELU after each, as HuBERT's "default" extractor), a LayerNorm over its channels, a
projection to the embedding width, then ``x + GELU(conv(x))`` with a wide convolution over time as the
relative position embedding. The post-norm transformer's embedding LayerNorm follows (``model.py``).

What is elastic (LightHuBERT's choices): the projection's output rows and the position convolution's
channels follow the active embedding width. The feature encoder is fixed: every subnet shares it whole,
so latency predictors time it as one lookup-table part. The position convolution is depthwise (one
filter per channel) where HuBERT's has 16 groups: the first e channels of a depthwise convolution are
exactly a depthwise convolution of width e, while a grouped one would regroup its channels at each width.
An even kernel drops the last output frame (HuBERT's ``SamePad``), so frames keep their count.

The same classes serve the supernet and extracted subnets; extraction fills a subnet's copy with the
part ``PositionalConv.active_index`` names (the feature encoder whole).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from supernas.models.elastic import Index
from supernas.spaces.audio import AudioSpec


class ConvFeatureEncoder(nn.Module):
    """Waveform (B, S) -> features (B, T, conv_dim), layer-normed over channels."""

    def __init__(self, audio: AudioSpec, eps: float) -> None:
        super().__init__()
        convs, channels = [], 1
        for out, kernel, stride in audio.conv_layers:
            convs.append(nn.Conv1d(channels, out, kernel, stride=stride, bias=False))
            channels = out
        self.convs = nn.ModuleList(convs)
        self.first_norm = nn.GroupNorm(audio.conv_layers[0][0], audio.conv_layers[0][0])
        self.norm_weight = nn.Parameter(torch.ones(channels))  # LayerNorm over the output channels
        self.norm_bias = nn.Parameter(torch.zeros(channels))
        self.channels, self.eps = channels, eps

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        x = wave[:, None, :]  # (B, 1, S)
        for i, conv in enumerate(self.convs):
            x = conv(x)
            x = F.gelu(self.first_norm(x) if i == 0 else x)  # (B, C, T_i)
        x = x.transpose(1, 2)  # (B, T, C)
        return F.layer_norm(x, (self.channels,), self.norm_weight, self.norm_bias, self.eps)


class PositionalConv(nn.Module):
    """Depthwise convolution over frames on the first ``width`` channels: (B, T, C) -> (B, T, C)."""

    def __init__(self, channels: int, kernel: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(channels, 1, kernel))
        self.bias = nn.Parameter(torch.zeros(channels))
        nn.init.normal_(
            self.weight, std=(4.0 / kernel) ** 0.5 / kernel
        )  # small: starts near the identity residual
        self.kernel, self.width = kernel, channels

    def active_index(self) -> dict[str, Index]:
        return {"weight": (slice(self.width),), "bias": (slice(self.width),)}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        index = self.active_index()
        weight, bias = self.weight[index["weight"]], self.bias[index["bias"]]
        y = F.conv1d(x.transpose(1, 2), weight, bias, padding=self.kernel // 2, groups=self.width)
        if self.kernel % 2 == 0:
            y = y[:, :, :-1]
        return F.gelu(y).transpose(1, 2)


class SpeechFrontEnd(nn.Module):
    """Waveform (B, S) -> frame embeddings (B, T, embed) with relative positions mixed in."""

    def __init__(self, audio: AudioSpec, embed: int, eps: float, leaves) -> None:
        super().__init__()
        self.features = ConvFeatureEncoder(audio, eps)
        self.proj = leaves.linear(audio.conv_dim, embed, True, 32, 32)
        self.pos_conv = PositionalConv(embed, audio.pos_conv_kernel)
        self.conv_dim = audio.conv_dim

    def configure(self, embed: int) -> None:
        self.proj.set_active(embed, self.conv_dim)
        self.pos_conv.width = embed

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        x = self.proj(self.features(wave))  # (B, T, embed)
        return x + self.pos_conv(x)
