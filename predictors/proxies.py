"""Training-free (zero-cost) proxies, scored through the weight-sharing supernet.

Every proxy is a plain function ``proxy(model, batch) -> float`` over a ``Transformer``: the supernet with
an architecture active, or the same subnet extracted as a dense model. The metric classes call it on the
supernet inside ``supernet.active(arch)``, never building a model, and the two agree to float rounding
(the tests hold them within 1e-4). Conventions shared by all proxies:

- Weights: every parameter *slice* the active architecture computes with (linear weights and biases,
  layer norms, embedding tables), never the supernet's unused rows, layers or experts: the slices
  ``supernas.models.supernet.active_slices`` names, which extraction copies. Gradients are
  taken on the full supernet tensors and read back through the same slices, so sums cover exactly the
  extracted model's parameters. (The reference implementations of Abdelfattah et al. 2021 and ZiCo sum
  over conv/linear weights only; in a transformer the embeddings and norms are a large share of the
  weights, so they are included here.)
- Passes run on ``torch.func.functional_call`` over leaf tensors that share the model's storage (or, for
  synflow, over |theta|): nothing is written to the model, no ``.grad`` is set, its train/eval mode is
  untouched (the model has no dropout or batch norm, so the mode does not change outputs).
- Loss: mean next-token cross-entropy over real tokens for a causal LM, cross-entropy of the class
  logits otherwise, on the context's fixed batch. No proxy draws random numbers, so the same
  architecture, weights and batch give the same value.
- Samples: each sequence (or image) of the batch is one sample, as each image is in the papers.
- Direction: every proxy is maximized, as in its paper: more gradient signal (synflow, snip, grad_norm,
  fisher, zico), inputs told further apart (naswot's log-det), less correlated samples (jacov and
  hidden_cov, whose score peaks when every eigenvalue of the correlation matrix is 1).

Quantization: in the supernet, gradients reach the full-precision weights through the straight-through
estimator; an extracted model stores 4/8/16-bit weights as buffers, which have no gradient, so the two
agree only where weights are 32-bit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import torch
from torch import nn
from torch.func import functional_call

from supernas.core.errors import SpecError
from supernas.data.inputs import Batch
from supernas.models.model import FeedForward
from supernas.models.supernet import active_slices
from supernas.predictors.base import CostClass, Metric, MetricContext, register
from supernas.predictors.costs import NonEmbeddingParams
from supernas.spaces.architecture import Architecture
from supernas.training.losses import task_loss

Objective = Callable[[torch.Tensor, Batch], torch.Tensor]  # (output, batch) -> scalar
CORRELATION_K = 1e-5  # Mellor et al. (2021, v1) and Serianni & Kalita (2023)


# ---------------------------------------------------------------- active weights and their gradients


def _leaf_weights(
    model: nn.Module, transform: Callable[[torch.Tensor], torch.Tensor] | None = None
) -> dict[str, torch.Tensor]:
    """Gradient-requiring leaves standing in for the model's parameters (sharing storage unless
    transformed)."""
    return {
        name: (transform(p.detach()) if transform else p.detach()).requires_grad_()
        for name, p in model.named_parameters()
    }


def _forward(model: nn.Module, weights: dict[str, torch.Tensor], batch: Batch) -> torch.Tensor:
    return functional_call(model, weights, (batch.inputs, batch.padding))


def _real_tokens(batch: Batch, like: torch.Tensor) -> torch.Tensor:
    """(B, T, 1) 1.0 at real tokens, to leave padding out of sums and per-sample vectors."""
    if batch.padding is None:
        return torch.ones(*like.shape[:2], 1, dtype=like.dtype, device=like.device)
    return batch.padding[..., None].to(like.dtype)


def _output_sum(logits: torch.Tensor, batch: Batch) -> torch.Tensor:
    """Sum of the outputs (at real tokens, for a causal LM)."""
    if logits.dim() == 3:
        return (logits * _real_tokens(batch, logits)).sum()
    return logits.sum()


@torch.enable_grad()
def weight_grads(
    model: nn.Module,
    batch: Batch,
    objective: Objective = task_loss,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(active weight, d objective / d weight) for every parameter slice the current architecture uses.

    ``transform`` replaces every weight for the pass (synflow's |theta|); the weight returned is the
    transformed one. The model's parameters and their ``.grad`` are left untouched.
    """
    slices = active_slices(model)
    weights = _leaf_weights(model, transform)
    names = [name for name, _ in slices]  # each parameter once
    found = torch.autograd.grad(
        objective(_forward(model, weights, batch), batch), [weights[n] for n in names], allow_unused=True
    )
    grads = {n: torch.zeros_like(weights[n]) if g is None else g for n, g in zip(names, found)}
    return [(weights[n].detach()[index], grads[n][index]) for n, index in slices]


# ---------------------------------------------------------------- activations


@contextmanager
def _hooked(modules: Iterable[nn.Module], hook: Callable, pre: bool = False) -> Iterator[None]:
    """Forward (or forward-pre) hooks on ``modules`` for the duration of a ``with`` block."""
    handles = [m.register_forward_pre_hook(hook) if pre else m.register_forward_hook(hook) for m in modules]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def _ffns(model: nn.Module) -> list[FeedForward]:
    """Every FFN module; those of inactive supernet blocks never run, so their hooks never fire."""
    return [m for m in model.modules() if isinstance(m, FeedForward)]


def _ffn_codes(ffn: FeedForward, x: torch.Tensor) -> torch.Tensor:
    """(B, T, units) booleans: an FFN hidden unit fires for a token (pre-activation > 0, the same as
    GELU/ReLU output > 0). In an MoE layer, units of experts a token is not routed to count as silent.
    (Under 8/16-bit activation fake-quant an expert scales only its routed tokens; here all tokens share
    the layer's scale, so MoE codes can differ in rare near-zero units.)"""
    experts = list(ffn.experts)[: ffn.n_experts]
    codes = [expert.fc1(x) > 0 for expert in experts]
    if ffn.n_experts > 1:  # the routing of ops.mixture_of_experts
        chosen = torch.topk(ffn.router(x), ffn.top_k, dim=-1).indices  # (B, T, k)
        codes = [code & (chosen == e).any(-1, keepdim=True) for e, code in enumerate(codes)]
    return torch.cat(codes, dim=-1)


def _correlation_score(samples: torch.Tensor) -> float:
    """-sum_i [log(lambda_i + k) + 1 / (lambda_i + k)], lambda_i the eigenvalues of the correlation
    matrix between samples (rows, flattened), k = 1e-5. Largest when samples are uncorrelated."""
    corr = torch.corrcoef(samples.flatten(1).double())
    lam = torch.linalg.eigvalsh(corr) + CORRELATION_K
    return float(-(torch.log(lam) + 1.0 / lam).sum())


# ---------------------------------------------------------------- the proxies


def synflow(model: nn.Module, batch: Batch) -> float:
    """SynFlow (Tanaka et al. 2020, "Pruning neural networks without any data by iteratively conserving
    synaptic flow"; as a NAS proxy: Abdelfattah et al. 2021, "Zero-Cost Proxies for Lightweight NAS").

    score = sum_theta |theta * dR/dtheta| with every weight replaced by |theta| and R = sum of the
    outputs (logits). Input: an all-ones image for vision, as in the paper. Token inputs cannot be all
    ones after the embedding: LayerNorm maps any channel-constant vector to its bias, which would give
    every architecture the same score, so text uses the batch's token ids and the embedding looks up
    |theta| rows. The weights are replaced on a functional copy of the pass, never in the model.
    """
    if model.spec.task == "vision":
        batch = Batch(torch.ones_like(batch.inputs), batch.targets, batch.padding)
    return float(sum((w * g).abs().sum() for w, g in weight_grads(model, batch, _output_sum, torch.abs)))


def snip(model: nn.Module, batch: Batch) -> float:
    """SNIP (Lee et al. 2019, "SNIP: Single-shot network pruning based on connection sensitivity"),
    as summed by Abdelfattah et al. 2021: score = sum_theta |theta * dL/dtheta|."""
    return float(sum((w * g).abs().sum() for w, g in weight_grads(model, batch)))


def grad_norm(model: nn.Module, batch: Batch) -> float:
    """Gradient norm (Abdelfattah et al. 2021): score = ||dL/dtheta||_2 over all active weights together
    (their code sums per-layer norms instead; one global norm does not depend on how layers are cut)."""
    return math.sqrt(sum(float(g.pow(2).sum(dtype=torch.float64)) for _, g in weight_grads(model, batch)))


@torch.enable_grad()
def fisher(model: nn.Module, batch: Batch) -> float:
    """Fisher (Turner et al. 2020, "BlockSwap"; Abdelfattah et al. 2021), on the output z (B, T, C) of
    each block's FFN:

        score = sum_blocks sum_c 0.5 * mean_b ( sum_t z[b,t,c] * dL/dz[b,t,c] )^2

    i.e. the per-channel Fisher saliency of the reference code, with positions summed as it sums the
    spatial positions of a feature map. FFN outputs (rather than every linear) are always (B, T, C),
    dense or mixture-of-experts, so every block contributes the same kind of term.
    """
    outputs: list[torch.Tensor] = []
    with _hooked(_ffns(model), lambda module, args, out: outputs.append(out)):
        loss = task_loss(_forward(model, _leaf_weights(model), batch), batch)
    if not outputs:  # every layer's FFN is a no-op: the sum has no terms
        return 0.0
    grads = torch.autograd.grad(loss, outputs)
    return float(
        sum(0.5 * (z.detach() * g).sum(dim=1).pow(2).mean(dim=0).sum() for z, g in zip(outputs, grads))
    )


@torch.no_grad()
def naswot(model: nn.Module, batch: Batch) -> float:
    """NASWOT (Mellor et al. 2021, "Neural Architecture Search without Training", v2): log|K_H| with

        K_H[i, j] = N_A - d_H(c_i, c_j) = c_i . c_j + (1 - c_i) . (1 - c_j)

    where c_i is the binary code of sample i: which FFN hidden units fire (GELU/ReLU > 0) at each of its
    real tokens, over all active blocks, and N_A the code length.
    """
    codes: list[torch.Tensor] = []
    with _hooked(_ffns(model), lambda ffn, args: codes.append(_ffn_codes(ffn, args[0])), pre=True):
        model(batch.inputs, batch.padding)
    empty = torch.zeros(
        *batch.inputs.shape[:2], 0, dtype=torch.double
    )  # every FFN a no-op: no code, log|0| = -inf
    c = (
        torch.cat([code.double() for code in codes], dim=-1) if codes else empty
    )  # (B, T, hidden units of all blocks)
    keep = _real_tokens(batch, c)
    on, off = (c * keep).flatten(1), ((1 - c) * keep).flatten(1)
    return float(torch.linalg.slogdet(on @ on.T + off @ off.T).logabsdet)


@torch.enable_grad()
def jacov(model: nn.Module, batch: Batch) -> float:
    """Jacobian covariance (Mellor et al. 2021, "Neural Architecture Search without Training", v1).

    J_i = d(sum of outputs)/dx_i for each sample i, x the input of the first block (token inputs are
    discrete, so the embedded sequence stands in for the image), then the correlation score
    -sum_i [log(lambda_i + k) + 1/(lambda_i + k)] over the eigenvalues of corr(J), k = 1e-5.
    """
    inputs: list[torch.Tensor] = []

    def leaf_input(block: nn.Module, args: tuple) -> tuple:
        inputs.append(args[0].detach().requires_grad_())
        return (inputs[-1], *args[1:])

    with _hooked([model.blocks[0]], leaf_input, pre=True):
        out = model(batch.inputs, batch.padding)
    (jacobian,) = torch.autograd.grad(_output_sum(out, batch), inputs)
    return _correlation_score(jacobian * _real_tokens(batch, jacobian))


@torch.no_grad()
def hidden_cov(model: nn.Module, batch: Batch) -> float:
    """Hidden covariance (Serianni & Kalita 2023, "Training-free Neural Architecture Search for RNNs
    and Transformers"): NASWOT-v1's Jacobian covariance score applied to hidden states,

        score = -sum_i [log(lambda_i + k) + 1/(lambda_i + k)],  k = 1e-5,

    lambda_i the eigenvalues of the correlation matrix, across the batch's samples, of the final layer's
    hidden states (each sample's (T, C) states flattened, padding zeroed). The paper scores an RNN's
    hidden states; a transformer's final hidden states are the output of ``encode``.
    """
    hidden = model.encode(batch.inputs, batch.padding)
    return _correlation_score(hidden * _real_tokens(batch, hidden))


def _split_batch(batch: Batch, parts: int) -> list[Batch]:
    """``parts`` mini-batches of (nearly) equal size along the batch dimension."""
    chunks = [
        t.tensor_split(parts) if t is not None else [None] * parts
        for t in (batch.inputs, batch.targets, batch.padding)
    ]
    return [Batch(*fields) for fields in zip(*chunks)]


def zico(model: nn.Module, batch: Batch, parts: int = 2) -> float:
    """ZiCo (Li et al. 2023, "ZiCo: Zero-shot NAS via Inverse Coefficient of Variation on Gradients", ICLR):

        score = sum_layers log( sum_{theta in layer} E[|g_theta|] / std(g_theta) )

    mean and (population) std over the gradients of ``parts`` mini-batches split from the batch. As in
    the reference code, weights whose gradient does not vary (std = 0) are left out, and so is a layer
    whose sum is 0. Each parameter tensor (weight, bias, norm, embedding) counts as a layer.
    """
    per_part = [[g for _, g in weight_grads(model, part)] for part in _split_batch(batch, parts)]
    score = 0.0
    for grads in zip(*per_part):
        g = torch.stack(grads).flatten(1)
        g = g[:, g.ne(0).any(dim=0)]  # weights no part moves have std 0 (most rows of a large embedding)
        std = (g - g.mean(dim=0)).pow(2).mean(dim=0).sqrt()  # population std; Tensor.std is slow over 2 rows
        varies = std != 0
        total = float((g.abs().mean(dim=0)[varies] / std[varies]).sum(dtype=torch.float64))
        score += math.log(total) if total > 0 else 0.0
    return score


# ---------------------------------------------------------------- metrics


class _Proxy(Metric):
    """A proxy computed through the weight-sharing supernet with the architecture active."""

    direction = "maximize"
    unit = "score"
    cost = CostClass.proxy
    proxy: Callable[[nn.Module, Batch], float]  # the function above, as a staticmethod

    def score(self, model: nn.Module, batch: Batch) -> float:
        return self.proxy(model, batch)

    def evaluate(self, arch: Architecture, context: MetricContext) -> float:
        self.check_applicable(context.spec)
        supernet = context.supernet
        with supernet.active(arch):
            return self.score(supernet, context.batch.to(context.device))


@register
class Synflow(_Proxy):
    __doc__ = synflow.__doc__
    name = "synflow"
    description = "SynFlow: sum |theta * dR/dtheta| with |theta| weights (Tanaka et al. 2020)"
    proxy = staticmethod(synflow)


@register
class Snip(_Proxy):
    __doc__ = snip.__doc__
    name = "snip"
    description = "SNIP: sum |theta * dL/dtheta| (Lee et al. 2019)"
    proxy = staticmethod(snip)


@register
class GradNorm(_Proxy):
    __doc__ = grad_norm.__doc__
    name = "grad_norm"
    description = "L2 norm of the loss gradient (Abdelfattah et al. 2021)"
    proxy = staticmethod(grad_norm)


@register
class Fisher(_Proxy):
    __doc__ = fisher.__doc__
    name = "fisher"
    description = "Fisher saliency of the FFN outputs (Turner et al. 2020)"
    proxy = staticmethod(fisher)


@register
class Naswot(_Proxy):
    __doc__ = naswot.__doc__
    name = "naswot"
    unit = "log-det"
    description = "log-det of the FFN activation-code kernel (Mellor et al. 2021)"
    proxy = staticmethod(naswot)


@register
class Jacov(_Proxy):
    __doc__ = jacov.__doc__
    name = "jacov"
    description = "Jacobian covariance score (Mellor et al. 2021, v1)"
    proxy = staticmethod(jacov)


@register
class HiddenCov(_Proxy):
    __doc__ = hidden_cov.__doc__
    name = "hidden_cov"
    description = "correlation score of the final hidden states (Serianni & Kalita 2023)"
    proxy = staticmethod(hidden_cov)


@register
class Zico(_Proxy):
    __doc__ = zico.__doc__
    name = "zico"
    description = "inverse coefficient of variation of gradients over mini-batches (Li et al. 2023)"
    options = {"parts": 2}

    def score(self, model: nn.Module, batch: Batch) -> float:
        parts, size = self.settings["parts"], batch.inputs.shape[0]
        if not isinstance(parts, int) or not 2 <= parts <= size:
            raise SpecError(
                f"metric 'zico': option 'parts' = {parts!r}, needs an integer from 2 to the batch size {size}"
            )
        return zico(model, batch, parts)


# every zero-cost proxy above, in the order reports list them
PROXIES: tuple[str, ...] = tuple(
    cls.name for cls in (Synflow, Snip, GradNorm, Fisher, Naswot, Jacov, HiddenCov, Zico)
)


@register
class DecoderParams(NonEmbeddingParams):
    """Decoder (non-embedding) parameters, LiteTransformerSearch's training-free proxy for a decoder
    LM's perplexity (Javaheripi et al. 2022, "LiteTransformerSearch: Training-free Neural Architecture
    Search for Efficient Language Models"): every parameter but the token and position embeddings (an
    untied LM head counts; LTS's tied adaptive softmax has none)."""

    name = "decoder_params"
    direction = "maximize"
    unit = "parameters"
    tasks = ("causal_lm",)
    description = "non-embedding parameters of a decoder LM (Javaheripi et al. 2022)"

    def evaluate(self, arch: Architecture, context: MetricContext) -> float:
        self.check_applicable(context.spec)
        return super().evaluate(arch, context)  # the count non_embedding_params reports, maximized here
