"""Analytic costs of speech spaces: the conv front end counted as torch counts it."""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from supernas.data.inputs import random_batch
from supernas.models.checkpoint import extract
from supernas.models.supernet import Supernet
from supernas.spaces.analytic import speech_frontend_macs
from supernas.spaces.architecture import largest, smallest
from tests.helpers import speech_on_short_clips


def test_front_end_macs_equal_torchs_flop_count():
    for name, seconds in (("speech-tiny", 1.0), ("hubert-base", 0.25)):
        spec = speech_on_short_clips(name, seconds)
        supernet = Supernet(spec)
        for arch in (largest(spec), smallest(spec)):
            model = extract(supernet, arch)
            with FlopCounterMode(display=False) as counter, torch.no_grad():
                model.frontend(random_batch(spec, 1).inputs)
            assert counter.get_total_flops() == 2 * speech_frontend_macs(spec, arch.embed_dim)


def test_lookup_table_times_the_front_end_as_the_base_part():
    from supernas.models.speech import ConvFeatureEncoder
    from supernas.predictors.latency.parts import ForwardPart, arch_parts, part_module
    from supernas.predictors.latency.workload import Workload
    from supernas.spaces.spec import load_spec

    spec = load_spec("speech-tiny")
    arch = largest(spec)
    assert arch_parts(arch)[0] == ForwardPart("base", arch.embed_dim)
    module, inputs = part_module(spec, ForwardPart("base", arch.embed_dim), Workload(batch_size=2))
    assert isinstance(module.frontend.features, ConvFeatureEncoder) and len(module.blocks) == 0
    assert inputs.shape == (2, spec.audio.max_samples)  # one-second clips, whatever seq_len says
    with torch.no_grad():
        assert module(inputs).shape == (2, spec.num_classes)
