"""Masked language modelling: the 80/10/10 masking rule, a tied MLM head, dynamic masking, training.

The check builds the data: synthetic reviews as lists of ids, "[CLS] words [SEP]", with the specials
[PAD] = 0, [UNK] = 1, [CLS] = 2, [SEP] = 3, [MASK] = 4 first in the vocabulary.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

IGNORE = -100  # the label of a position the loss skips (F.cross_entropy's default ignore_index)


def mask_tokens(ids, special_ids, mask_id, vocab_size, p=0.15, generator=None):
    """Mask a batch of token ids for the MLM objective; returns (inputs, labels), both like ids (int64).

    ids: (B, T) int64. special_ids: the ids never selected and never drawn ([PAD], [UNK], [CLS], [SEP],
    [MASK]). Each NON-special token is selected with probability p. labels = the original id at the
    selected positions, IGNORE (-100) everywhere else. Of the selected tokens: 80 % become mask_id,
    10 % a token drawn uniformly from the non-special ids, 10 % stay as they are. Unselected tokens are
    never changed, and neither is `ids` itself. Pass `generator` to every random call.
    """
    # TODO: selected (bool, specials excluded), labels, then the 80/10/10 replacements inside `selected`
    raise NotImplementedError("mask_tokens")


class MLMHead(nn.Module):
    """BERT's MLM head: dense -> GELU -> LayerNorm -> decoder onto the vocabulary, plus a bias.

    Keep the names: self.dense = nn.Linear(hidden, hidden), self.norm = nn.LayerNorm(hidden),
    self.decoder whose weight IS embedding.weight (the same Parameter object: tied), and
    self.bias = nn.Parameter(torch.zeros(vocab_size)). forward(h): (B, T, hidden) -> (B, T, vocab).
    """

    def __init__(self, hidden, vocab_size, embedding):
        super().__init__()
        # TODO
        raise NotImplementedError("MLMHead.__init__")

    def forward(self, h):
        # TODO
        raise NotImplementedError("MLMHead.forward")


def mlm_loss(logits, labels):
    """The mean cross-entropy over the positions whose label is not IGNORE.
    logits (B, T, V), labels (B, T) -> a scalar."""
    # TODO
    raise NotImplementedError("mlm_loss")


class MLMCollator:
    """collate(sequences) -> (inputs, labels, padding_mask) for a list of id lists.

    Pads with pad_id to the longest sequence, then masks with mask_tokens: a NEW mask on every call
    (dynamic masking). padding_mask is bool, True at [PAD] (what nn.TransformerEncoder's
    src_key_padding_mask expects).
    """

    def __init__(self, pad_id, special_ids, mask_id, vocab_size, p=0.15, generator=None):
        # TODO: keep the settings
        raise NotImplementedError("MLMCollator.__init__")

    def __call__(self, sequences):
        # TODO: pad, mask, padding mask
        raise NotImplementedError("MLMCollator.__call__")


class MaskedLM(nn.Module):
    """Given (nothing to do here): token and position embeddings -> nn.TransformerEncoder -> MLMHead
    tied to the token embedding. You built this encoder layer by hand on the Transformer encoder day;
    here PyTorch's nn.TransformerEncoderLayer stands in for it."""

    def __init__(self, vocab_size, d_model=64, nhead=4, num_layers=2, d_ff=128, max_len=64, dropout=0.0):
        super().__init__()
        self.tok = nn.Embedding(vocab_size, d_model)
        self.pos = nn.Embedding(max_len, d_model)
        self.norm = nn.LayerNorm(d_model)
        layer = nn.TransformerEncoderLayer(d_model, nhead, d_ff, dropout, activation="gelu", batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.head = MLMHead(d_model, vocab_size, self.tok)
        nn.init.normal_(self.tok.weight, std=0.02)  # BERT's initialisation; N(0, 1) gives logits of size ~8
        nn.init.normal_(self.pos.weight, std=0.02)

    def forward(self, input_ids, padding_mask=None):
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = self.norm(self.tok(input_ids) + self.pos(positions))
        return self.head(self.encoder(x, src_key_padding_mask=padding_mask))


def train_mlm(model, sequences, collate, steps=100, batch_size=32, lr=2e-3, generator=None):
    """`steps` AdamW steps, each on batch_size random sequences masked by a fresh collate() call;
    return the loss of every step as a list of floats."""
    # TODO: for each step: pick a batch, collate it (fresh masks), forward, mlm_loss, backward, step
    raise NotImplementedError("train_mlm")
