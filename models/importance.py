"""Pretrained weights into a supernet, with heads and FFN neurons sorted by importance.

A supernet's subnets use the *first* k heads and the first k FFN neurons of every layer. A pretrained
checkpoint has no such order, so slicing it keeps arbitrary units. Sorting each layer's units by
importance before any slicing (as DynaBERT and Minitron do) makes every first-k subnet keep the most
important ones, at no training cost.

Importance, from the weights alone (no data, deterministic):
- a head: the L2 norm of its Q, K and V rows and of its O columns, all together;
- an FFN neuron: the L2 norm of its fc1 row (with bias) times the L2 norm of its fc2 column, the scale
  at which it can move the residual stream.

Each permutation is applied to both sides of the unit (q/k/v rows and biases per head group with the o
columns; fc1 rows and bias with the fc2 columns), so the largest subnet computes exactly the same
function as before, up to float summation order.

GQA: a query head and its own K/V head move together, so after sorting, a GQA subnet's first g K/V
heads are those of the g most important heads. Spaces whose K/V projections hold fewer heads than Q
(GQA-only spaces) keep their head order: moving K/V heads would change which query heads share them.
"""

from __future__ import annotations

from pathlib import Path

import torch

from supernas.models.model import Attention, Expert
from supernas.models.pretrained import LoadReport
from supernas.models.supernet import Supernet
from supernas.spaces.spec import SpaceSpec


def head_importance(attn: Attention) -> torch.Tensor:
    """(heads,) L2 norm of each head's q, k, v rows (weights and biases) and o columns."""
    d = attn.head_dim
    heads = attn.q.weight.shape[0] // d
    total = attn.o.weight.detach().reshape(-1, heads, d).pow(2).sum(dim=(0, 2))
    for proj in (attn.q, attn.k, attn.v):
        total = total + proj.weight.detach().reshape(heads, -1).pow(2).sum(1)
        if proj.bias is not None:
            total = total + proj.bias.detach().reshape(heads, d).pow(2).sum(1)
    return total.sqrt()


def neuron_importance(expert: Expert) -> torch.Tensor:
    """(ffn_dim,) ||fc1 row, bias|| * ||fc2 column||."""
    rows = expert.fc1.weight.detach().pow(2).sum(1)
    if expert.fc1.bias is not None:
        rows = rows + expert.fc1.bias.detach().pow(2)
    return rows.sqrt() * expert.fc2.weight.detach().pow(2).sum(0).sqrt()


@torch.no_grad()
def permute_heads(attn: Attention, order: torch.Tensor) -> None:
    """Put head ``order[i]`` in slot i: q/k/v rows and biases by head group, o columns likewise."""
    d = attn.head_dim
    rows = (order[:, None] * d + torch.arange(d)).flatten()
    for proj in (attn.q, attn.k, attn.v):
        proj.weight.copy_(proj.weight[rows])
        if proj.bias is not None:
            proj.bias.copy_(proj.bias[rows])
    attn.o.weight.copy_(attn.o.weight[:, rows])


@torch.no_grad()
def permute_neurons(expert: Expert, order: torch.Tensor) -> None:
    """Put neuron ``order[i]`` in slot i: fc1 rows and bias, fc2 columns."""
    expert.fc1.weight.copy_(expert.fc1.weight[order])
    if expert.fc1.bias is not None:
        expert.fc1.bias.copy_(expert.fc1.bias[order])
    expert.fc2.weight.copy_(expert.fc2.weight[:, order])


def _descending(scores: torch.Tensor) -> torch.Tensor:
    return torch.sort(scores, descending=True, stable=True).indices


def reorder_by_importance(supernet: Supernet) -> None:
    """Sort every layer's heads and every expert's neurons, most important first, in place."""
    for module in supernet.modules():
        if isinstance(module, Attention) and module.k.weight.shape[0] == module.q.weight.shape[0]:
            permute_heads(module, _descending(head_importance(module)))
        elif isinstance(module, Expert):
            permute_neurons(module, _descending(neuron_importance(module)))


def from_pretrained(
    spec: SpaceSpec, weights_path: str | Path, reorder: bool = True
) -> tuple[Supernet, LoadReport]:
    """A supernet whose largest subnet holds a pretrained checkpoint (supernas, GPT-2 or BERT names),
    its heads and FFN neurons sorted by importance unless ``reorder`` is False."""
    supernet = Supernet(spec)
    report = supernet.load_weights(weights_path)
    if reorder:
        reorder_by_importance(supernet)
        supernet.provenance += ", heads and FFN neurons sorted by weight-norm importance"
    return supernet, report
