"""Speech spaces: the HuBERT-shaped front end, extraction and analytic counts."""

from __future__ import annotations

import torch

from supernas.data.inputs import random_batch
from supernas.models.checkpoint import WEIGHTS, extract, load_subnet, save_subnet, tensor_bytes_on_disk
from supernas.models.dense import parameter_count
from supernas.models.supernet import Supernet
from supernas.spaces.analytic import checkpoint_bytes, count_params
from supernas.spaces.architecture import largest, sample_many, smallest
from supernas.spaces.spec import load_spec
from tests.helpers import speech_on_short_clips


def _equal_after_extraction(spec, archs, batch_size: int) -> None:
    supernet, batch = Supernet(spec, seed=0).eval(), random_batch(spec, batch_size, seed=1)
    for arch in archs:
        with torch.no_grad(), supernet.active(arch):
            expected = supernet(batch.inputs)
        model = extract(supernet, arch)
        with torch.no_grad():
            assert torch.equal(model(batch.inputs), expected), arch.to_json()
        assert parameter_count(model) == count_params(spec, arch)


def test_speech_tiny_subnets_equal_their_extraction():
    spec = load_spec("speech-tiny")
    _equal_after_extraction(
        spec, sample_many(spec, 24, seed=5) + [largest(spec), smallest(spec)], batch_size=3
    )


def test_hubert_base_subnets_equal_their_extraction_on_short_clips():
    spec = speech_on_short_clips("hubert-base", 0.25)
    assert spec.seq_len == 12  # 4,000 samples through HuBERT's 7 convolutions (total stride 320)
    _equal_after_extraction(spec, sample_many(spec, 3, seed=6), batch_size=1)


def test_hubert_base_sizes():
    spec = load_spec("hubert-base")
    assert spec.seq_len == 49  # one second: HuBERT's 20 ms frames
    # HuBERT-Base's encoder is 94.68M with a grouped (16) position convolution of 768*48*128 weights and
    # its pretraining heads; depthwise here: 768*128. Counted term by term, then held equal to the model.
    assert count_params(spec, largest(spec)) == 89_759_756
    supernet = Supernet(spec)
    assert sum(p.numel() for p in supernet.parameters()) == count_params(spec, largest(spec))


def test_checkpoint_round_trip_and_bytes(tmp_path):
    spec = load_spec("speech-tiny")
    supernet, batch = Supernet(spec, seed=2).eval(), random_batch(spec, 2, seed=3)
    arch = sample_many(spec, 1, seed=9)[0]
    model = extract(supernet, arch)
    save_subnet(model, tmp_path)
    loaded = load_subnet(tmp_path)
    with torch.no_grad():
        assert torch.equal(loaded(batch.inputs), model(batch.inputs))
    assert tensor_bytes_on_disk(tmp_path / WEIGHTS) == checkpoint_bytes(spec, arch)


def test_any_clip_length_up_to_the_space_maximum_runs():
    spec = load_spec("speech-tiny")
    model = extract(Supernet(spec), smallest(spec))
    with torch.no_grad():
        assert model(torch.zeros(1, 4000)).shape == (1, spec.num_classes)


def test_onnx_export_runs_in_onnxruntime_like_torch():
    import numpy as np

    from supernas.export.onnx import example_inputs, runtime_session, to_onnx, torch_outputs

    spec = load_spec("speech-tiny")
    supernet = Supernet(spec, seed=4)
    for arch in sample_many(spec, 3, seed=8):
        model = extract(supernet, arch)
        feeds = example_inputs(spec)
        got = runtime_session(to_onnx(model), threads=1).run(None, feeds)[0]
        assert np.abs(got - torch_outputs(model, feeds)[0]).max() < 1e-5
