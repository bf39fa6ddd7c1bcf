"""How the pages show an architecture with no-op blocks (attention 'none', ffn_dim 0)."""

from __future__ import annotations

from supernas.dashboard.archview import arch_view
from supernas.spaces.architecture import Architecture, LayerArch


def test_noop_blocks_read_as_absent():
    arch = Architecture(
        space="s",
        embed_dim=64,
        layers=(
            LayerArch(attention="none", ffn_dim=128),
            LayerArch(attention="gqa", heads=4, kv_heads=2, ffn_dim=0),
            LayerArch(attention="mha", heads=2, ffn_dim=256, experts=2, top_k=1),
        ),
    )
    view = arch_view(arch.to_json())
    assert view.line == "depth 3 · embed 64 · none/gqa/mha"
    assert view.hover.split("<br>")[1:4] == [
        "attention none/gqa/mha",
        "heads –/4:2/2 · FFN 128/–/256",
        "experts 1/–/2k1",
    ]
    assert view.dims == (3.0, 64.0, 2.0, 128.0, 4 / 3, 32.0)
