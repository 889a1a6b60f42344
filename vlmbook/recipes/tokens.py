"""Token ids for training batches, memoized by text.

ShapesWorld writes its captions, questions and answers from templates, so a
training run tokenizes the same strings over and over. Tokenizing each
distinct string once and padding the stored ids gives the same tensors as
calling the tokenizer on every batch, and saves most of its cost.
"""

from __future__ import annotations

import torch
from transformers import BatchEncoding, PreTrainedTokenizerBase


class MemoizedTokenizer:
    """Tokenize a list of texts like `tokenizer(texts, padding=True, return_tensors="pt")`, reusing earlier ids."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase):
        if tokenizer.padding_side != "right":
            raise ValueError(
                f"MemoizedTokenizer pads on the right, but the tokenizer pads on the {tokenizer.padding_side!r}; "
                "set tokenizer.padding_side = 'right' first"
            )
        self.tokenizer = tokenizer
        self._ids: dict[str, list[int]] = {}

    def ids(self, text: str) -> list[int]:
        """Return the token ids of `text`, special tokens included. Callers must not modify the list."""
        if text not in self._ids:
            self._ids[text] = self.tokenizer(text).input_ids
        return self._ids[text]

    def __call__(self, texts: list[str]) -> BatchEncoding:
        rows = [self.ids(text) for text in texts]
        length = max(len(ids) for ids in rows)
        pad_id = self.tokenizer.pad_token_id
        input_ids = torch.tensor([ids + [pad_id] * (length - len(ids)) for ids in rows])  # (B, T)
        attention_mask = torch.tensor([[1] * len(ids) + [0] * (length - len(ids)) for ids in rows])  # (B, T)
        return BatchEncoding({"input_ids": input_ids, "attention_mask": attention_mask})
