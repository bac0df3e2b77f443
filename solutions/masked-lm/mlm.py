"""Masked language modelling: the 80/10/10 masking rule, a tied MLM head, dynamic masking, training."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

IGNORE = -100  # the label of a position the loss skips (F.cross_entropy's default ignore_index)


def mask_tokens(ids, special_ids, mask_id, vocab_size, p=0.15, generator=None):
    """Select each non-special token with probability p; of the selected, 80 % become [MASK], 10 % a
    random non-special token, 10 % stay. Returns (inputs, labels): labels hold the original id at the
    selected positions and IGNORE everywhere else. `ids` is not changed."""
    special = torch.isin(ids, torch.as_tensor(list(special_ids), device=ids.device))
    probs = torch.full(ids.shape, p, device=ids.device)
    probs[special] = 0.0
    selected = torch.bernoulli(probs, generator=generator).bool()
    labels = torch.where(selected, ids, torch.full_like(ids, IGNORE))

    branch = torch.rand(ids.shape, generator=generator, device=ids.device)
    to_mask = selected & (branch < 0.8)
    to_random = selected & (branch >= 0.8) & (branch < 0.9)
    allowed = torch.tensor([t for t in range(vocab_size) if t not in set(special_ids)], device=ids.device)
    pick = torch.randint(len(allowed), ids.shape, generator=generator, device=ids.device)
    inputs = ids.clone()
    inputs[to_mask] = mask_id
    inputs[to_random] = allowed[pick[to_random]]
    return inputs, labels


class MLMHead(nn.Module):
    """dense -> GELU -> LayerNorm -> a decoder onto the vocabulary whose weight IS embedding.weight."""

    def __init__(self, hidden, vocab_size, embedding):
        super().__init__()
        self.dense = nn.Linear(hidden, hidden)
        self.norm = nn.LayerNorm(hidden)
        self.decoder = nn.Linear(hidden, vocab_size, bias=False)
        self.decoder.weight = embedding.weight  # tied: the same Parameter object
        self.bias = nn.Parameter(torch.zeros(vocab_size))

    def forward(self, h):
        return self.decoder(self.norm(F.gelu(self.dense(h)))) + self.bias


def mlm_loss(logits, labels):
    """Mean cross-entropy over the positions whose label is not IGNORE."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=IGNORE)


class MLMCollator:
    """Pads a list of id lists and masks them afresh on every call (dynamic masking)."""

    def __init__(self, pad_id, special_ids, mask_id, vocab_size, p=0.15, generator=None):
        self.pad_id, self.special_ids, self.mask_id = pad_id, list(special_ids), mask_id
        self.vocab_size, self.p, self.generator = vocab_size, p, generator

    def __call__(self, sequences):
        longest = max(len(s) for s in sequences)
        ids = torch.full((len(sequences), longest), self.pad_id, dtype=torch.int64)
        for row, seq in enumerate(sequences):
            ids[row, :len(seq)] = torch.as_tensor(seq, dtype=torch.int64)
        inputs, labels = mask_tokens(ids, self.special_ids, self.mask_id, self.vocab_size, self.p,
                                     generator=self.generator)
        return inputs, labels, ids == self.pad_id


class MaskedLM(nn.Module):
    """Token and position embeddings -> nn.TransformerEncoder -> MLMHead tied to the token embedding.
    (Given: you built this layer by hand on the Transformer encoder day.)"""

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
    """`steps` AdamW steps on random batches of `sequences`, each masked by a fresh collate() call.
    Returns the loss of every step (floats)."""
    device = next(model.parameters()).device
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    model.train()
    losses = []
    for _ in range(steps):
        picks = torch.randint(len(sequences), (batch_size,), generator=generator)
        inputs, labels, padding = collate([sequences[i] for i in picks.tolist()])
        logits = model(inputs.to(device), padding.to(device))
        loss = mlm_loss(logits, labels.to(device))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
