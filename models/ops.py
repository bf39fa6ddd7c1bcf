"""Functional building blocks shared by the supernet and by extracted subnets.

Both model families call these functions with their own (sliced or dense) tensors, so a subnet run in
the supernet and the same subnet extracted go through identical arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from supernas.spaces.spec import AttentionType

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "gelu": F.gelu,
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "relu": F.relu,
}


def _split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    b, t, _ = x.shape
    return x.view(b, t, heads, -1).transpose(1, 2)  # (B, heads, T, head_dim)


def _merge_heads(x: torch.Tensor) -> torch.Tensor:
    b, h, t, d = x.shape
    return x.transpose(1, 2).reshape(b, t, h * d)


def attention_mask(
    t: int, causal: bool, window: int | None, padding: torch.Tensor | None, device: torch.device
) -> torch.Tensor | None:
    """Boolean mask, True where a query (row) may attend to a key (column); None means attend to all.

    Sliding windows: causal layers see the last ``window`` tokens including their own; bidirectional
    layers see ``window // 2`` tokens on either side.
    """
    i = torch.arange(t, device=device)
    rel = i[:, None] - i[None, :]  # query - key
    mask = None
    if causal:
        mask = rel >= 0
        if window is not None:
            mask = mask & (rel < window)
    elif window is not None:
        mask = rel.abs() <= window // 2
    if padding is not None:
        keys = padding[:, None, None, :].bool()  # (B, 1, 1, T)
        mask = keys if mask is None else (mask[None, None] & keys)
    return mask


def softmax_attention(q, k, v, heads: int, kv_heads: int, mask: torch.Tensor | None) -> torch.Tensor:
    """Scaled dot-product attention with grouped K/V heads (kv_heads == heads is plain MHA)."""
    q, k, v = _split_heads(q, heads), _split_heads(k, kv_heads), _split_heads(v, kv_heads)
    if kv_heads != heads:
        k = k.repeat_interleave(heads // kv_heads, dim=1)
        v = v.repeat_interleave(heads // kv_heads, dim=1)
    return _merge_heads(F.scaled_dot_product_attention(q, k, v, attn_mask=mask))


def linear_attention(
    q, k, v, heads: int, causal: bool, padding: torch.Tensor | None, eps: float = 1e-6
) -> torch.Tensor:
    """Kernelized attention (Katharopoulos et al. 2020) with phi(x) = elu(x) + 1; O(T) in length.

    out_i = phi(q_i) . sum_j phi(k_j) v_j^T / (phi(q_i) . sum_j phi(k_j)), the sums over visible keys j.
    """
    q, k, v = (_split_heads(x, heads) for x in (q, k, v))
    q, k = F.elu(q) + 1, F.elu(k) + 1
    if padding is not None:
        keep = padding[:, None, :, None].to(k.dtype)  # (B, 1, T, 1)
        k, v = k * keep, v * keep
    if causal:
        kv = torch.einsum("bhtd,bhte->bhtde", k, v).cumsum(dim=2)
        z = k.cumsum(dim=2)
        num = torch.einsum("bhtd,bhtde->bhte", q, kv)
        den = (q * z).sum(-1, keepdim=True)
    else:
        kv = torch.einsum("bhtd,bhte->bhde", k, v)
        num = torch.einsum("bhtd,bhde->bhte", q, kv)
        den = torch.einsum("bhtd,bhd->bht", q, k.sum(dim=2)).unsqueeze(-1)
    return _merge_heads(num / (den + eps))


def attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    kind: AttentionType,
    heads: int,
    kv_heads: int,
    window: int | None,
    causal: bool,
    padding: torch.Tensor | None,
) -> torch.Tensor:
    """Projected q (B, T, heads*hd), k and v (B, T, kv_heads*hd) -> (B, T, heads*hd)."""
    if kind is AttentionType.linear:
        return linear_attention(q, k, v, heads, causal, padding)
    mask = attention_mask(q.shape[1], causal, window, padding, q.device)
    return softmax_attention(q, k, v, heads, kv_heads, mask)


def mixture_of_experts(
    x: torch.Tensor,
    router_logits: torch.Tensor,
    top_k: int,
    experts: Sequence[Callable[[torch.Tensor], torch.Tensor]],
) -> torch.Tensor:
    """Top-k routing (softmax over the k chosen logits, as in Mixtral); x (N, C) -> (N, C)."""
    weights, chosen = torch.topk(router_logits, top_k, dim=-1)  # (N, k)
    weights = torch.softmax(weights, dim=-1)
    out = torch.zeros_like(x)
    for e, expert in enumerate(experts):
        token, slot = torch.where(chosen == e)
        if token.numel():
            out.index_add_(0, token, expert(x[token]) * weights[token, slot, None])
    return out


def mixture_of_experts_dense(
    x: torch.Tensor,
    router_logits: torch.Tensor,
    top_k: int,
    experts: Sequence[Callable[[torch.Tensor], torch.Tensor]],
) -> torch.Tensor:
    """:func:`mixture_of_experts` without data-dependent shapes: every expert sees every token and
    unchosen experts get gate 0. Equal to float rounding; what a static graph (ONNX) can express.
    """
    weights, chosen = torch.topk(router_logits, top_k, dim=-1)  # (N, k)
    gates = torch.zeros_like(router_logits).scatter(1, chosen, torch.softmax(weights, dim=-1))  # (N, E)
    out = torch.zeros_like(x)
    for e, expert in enumerate(experts):
        out = out + expert(x) * gates[:, e : e + 1]
    return out


def patchify(images: torch.Tensor, patch: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, H/p * W/p, C*p*p), patches in row-major order."""
    b, c, _, _ = images.shape
    x = images.unfold(2, patch, patch).unfold(3, patch, patch)  # (B, C, H/p, W/p, p, p)
    return x.permute(0, 2, 3, 1, 4, 5).reshape(b, -1, c * patch * patch)


def mean_pool(h: torch.Tensor, padding: torch.Tensor | None) -> torch.Tensor:
    """Mean over real tokens (B, T, C) -> (B, C); sentence-embedding pooling."""
    if padding is None:
        return h.mean(dim=1)
    keep = padding[:, :, None].to(h.dtype)
    return (h * keep).sum(1) / keep.sum(1).clamp_min(1.0)
