"""Configuration of a subnet found by supernas: global settings plus one entry per layer.

Written by ``supernas export --format hf`` next to ``modeling_supernas.py``; imports only transformers, so
``AutoConfig.from_pretrained(directory, trust_remote_code=True)`` reads it without supernas installed.
Each entry of ``layers`` is one transformer layer: ``attention`` (mha, gqa, sliding_window, linear or
none), ``heads``, ``kv_heads``, ``window``, ``ffn_dim`` (0: no FFN), ``experts``, ``top_k``,
``weight_bits``, ``act_bits`` and ``weight_group_size`` (input columns per weight scale; null: per row).
"""

from __future__ import annotations

from transformers import PretrainedConfig


class SupernasConfig(PretrainedConfig):
    model_type = "supernas"

    def __init__(
        self,
        task: str = "causal_lm",
        hidden_size: int = 64,
        head_dim: int = 16,
        layers: list[dict] | None = None,
        vocab_size: int = 0,
        type_vocab_size: int = 0,
        max_position_embeddings: int = 0,
        norm: str = "pre",
        layer_norm_eps: float = 1e-5,
        hidden_act: str = "gelu",
        bias: bool = True,
        causal: bool = False,
        num_classes: int = 0,
        image_size: int = 0,
        patch_size: int = 0,
        num_channels: int = 3,
        conv_layers: list[list[int]] | None = None,
        pos_conv_kernel: int = 0,
        tied_head: bool = False,
        use_cache: bool = True,
        **kwargs,
    ) -> None:
        self.task, self.hidden_size, self.head_dim = task, hidden_size, head_dim
        self.layers = layers or []
        self.num_hidden_layers = len(self.layers)
        # a KV cache layer per layer with attention; "moe" is transformers' mark for a layer without one
        self.layer_types = [
            "moe" if layer["attention"] == "none" else "full_attention" for layer in self.layers
        ]
        self.vocab_size, self.type_vocab_size = vocab_size, type_vocab_size
        self.max_position_embeddings = max_position_embeddings
        self.norm, self.layer_norm_eps, self.hidden_act, self.bias = norm, layer_norm_eps, hidden_act, bias
        self.causal, self.num_classes = causal, num_classes
        self.image_size, self.patch_size, self.num_channels = image_size, patch_size, num_channels
        self.conv_layers, self.pos_conv_kernel = conv_layers or [], pos_conv_kernel
        # tied: the LM head is the token embedding (computed from it, not a second tensor)
        self.tied_head, self.use_cache = tied_head, use_cache
        kwargs.pop("tie_word_embeddings", None)
        super().__init__(tie_word_embeddings=False, is_decoder=causal, **kwargs)
