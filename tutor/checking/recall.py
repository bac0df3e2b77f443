"""Associative recall and the small GPT of the scaling-llms lesson (in-context learning).

    from tutor.checking.recall import NUM_KEYS, NUM_VALUES, episodes, load_recall_gpt
    model = load_recall_gpt("cpu")                  # shipped weights, SHA-256 checked
    ep = episodes(500, k_shots=4, generator=torch.Generator().manual_seed(0))
    ep.keys, ep.values          # (500, 4) the pairs shown in each prompt (distinct keys per row)
    ep.query, ep.answer         # (500,) the key asked about (one of the shown keys when k > 0)
    logits = model(tokens)      # tokens (B, T) ids -> logits (B, T, VOCAB)

Tokens: keys are ids 0..NUM_KEYS-1, values NUM_KEYS..VOCAB-1. Every sequence carries a FRESH
random map key -> value, so nothing about the map can be stored in the weights: the only way to
answer is to read the pairs in the prompt. The model was trained on sequences k1 v1 k2 v2 ...
(keys drawn with replacement from 2-8 of the 16, loss on every value), so with no pairs shown it
can only guess (chance 1 / NUM_VALUES) and with the query's pair in the prompt it copies the value.
The recipe (`train_recall_gpt`): PAIRS pairs per sequence, batch 64, Adam lr 3e-3, STEPS steps,
one CPU thread, seed 0. When the shipped file is missing or damaged, `recall_gpt_path()` trains
once and caches the result like pretrained.py does.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from tutor.checking.pretrained import WEIGHTS_DIR, cache_dir, file_sha256

NUM_KEYS, NUM_VALUES = 16, 16
VOCAB = NUM_KEYS + NUM_VALUES
PAIRS = 12                      # pairs per training sequence
MIN_USED, MAX_USED = 2, 8       # distinct keys in one training sequence; prompts hold at most 8 pairs
D_MODEL, HEADS, LAYERS = 64, 4, 2
STEPS, BATCH, LR = 600, 64, 3e-3
RECALL_FILE = WEIGHTS_DIR / "recall_gpt_v1.pt"
RECALL_SHA256 = "fef1350d8adaafafa1e6f02e1af779e95e8c07fb1a1e8ec82516f2996957e477"


class Episodes(NamedTuple):
    keys: torch.Tensor      # (n, k) long, distinct within a row
    values: torch.Tensor    # (n, k) long, value ids (NUM_KEYS..VOCAB-1)
    query: torch.Tensor     # (n,) long: the key asked about
    answer: torch.Tensor    # (n,) long: its value id under this row's map


def episodes(n: int, k_shots: int, generator: torch.Generator) -> Episodes:
    """n prompts of k_shots distinct (key, value) pairs from a fresh map each, and a query.

    For k_shots > 0 the query is one of the shown keys (uniform); for 0 it is any key and its
    answer a fresh uniform value: no prompt can tell it, so chance is 1 / NUM_VALUES.
    """
    if not 0 <= k_shots <= MAX_USED:
        raise ValueError(f"k_shots must be in 0..{MAX_USED} (the most distinct keys in training), got {k_shots}")
    table = torch.randint(NUM_KEYS, VOCAB, (n, NUM_KEYS), generator=generator)   # the fresh maps
    order = torch.argsort(torch.rand(n, NUM_KEYS, generator=generator), dim=1)
    keys = order[:, :k_shots]
    values = torch.gather(table, 1, keys)
    if k_shots > 0:
        slot = torch.randint(0, k_shots, (n, 1), generator=generator)
        query = torch.gather(keys, 1, slot)[:, 0]
    else:
        query = order[:, 0]
    answer = torch.gather(table, 1, query[:, None])[:, 0]
    return Episodes(keys, values, query, answer)


def training_batch(batch: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Sequences k1 v1 ... k_P v_P and the targets (-100 except at the keys, which predict values).

    Each row draws its keys with replacement from a random subset of MIN_USED..MAX_USED keys, so
    most keys come back and their values can be copied from earlier in the sequence.
    """
    table = torch.randint(NUM_KEYS, VOCAB, (batch, NUM_KEYS), generator=generator)
    order = torch.argsort(torch.rand(batch, NUM_KEYS, generator=generator), dim=1)
    used = torch.randint(MIN_USED, MAX_USED + 1, (batch, 1), generator=generator)  # keys in play
    slot = (torch.rand(batch, PAIRS, generator=generator) * used).long()
    keys = torch.gather(order, 1, slot)
    values = torch.gather(table, 1, keys)
    tokens = torch.stack([keys, values], dim=2).reshape(batch, 2 * PAIRS)
    targets = torch.full_like(tokens, -100)
    targets[:, 0::2] = values              # the position of each key predicts its value
    return tokens, targets


class Block(nn.Module):
    """Pre-norm causal self-attention and a 2x MLP, each with a residual."""

    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        att = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(att.transpose(1, 2).reshape(b, t, d))
        return x + self.mlp(self.ln2(x))


class RecallGPT(nn.Module):
    """A 2-layer GPT over VOCAB tokens, positions up to 2 * PAIRS: (B, T) ids -> (B, T, VOCAB) logits."""

    def __init__(self, d: int = D_MODEL, heads: int = HEADS, layers: int = LAYERS) -> None:
        super().__init__()
        self.tok = nn.Embedding(VOCAB, d)
        self.pos = nn.Embedding(2 * PAIRS, d)
        self.blocks = nn.ModuleList(Block(d, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, VOCAB)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if tokens.dim() != 2 or tokens.shape[1] > 2 * PAIRS:
            raise ValueError(f"tokens must be (batch, T) with T <= {2 * PAIRS}, got {tuple(tokens.shape)}")
        x = self.tok(tokens) + self.pos(torch.arange(tokens.shape[1], device=tokens.device))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))


def train_recall_gpt(seed: int = 0, steps: int = STEPS, log=None) -> RecallGPT:
    """Train a RecallGPT (deterministic for a seed on one CPU thread)."""
    torch.manual_seed(seed)
    model = RecallGPT()
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for step in range(steps):
        tokens, targets = training_batch(BATCH, gen)
        loss = F.cross_entropy(model(tokens).reshape(-1, VOCAB), targets.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if log is not None and step % 100 == 0:
            log(step, loss.item())
    return model.eval()


def save_state(model: nn.Module, path: Path) -> None:
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    tmp = Path(path).with_name(Path(path).name + ".tmp")
    tmp.write_bytes(buffer.getvalue())
    os.replace(tmp, path)


def recall_gpt_path() -> Path:
    """The shipped weights when their SHA-256 matches; else a cached copy, trained here once."""
    if RECALL_FILE.is_file() and file_sha256(RECALL_FILE) == RECALL_SHA256:
        return RECALL_FILE
    for folder in (cache_dir(), Path(tempfile.gettempdir()) / "dltutor-cache"):
        cached = folder / RECALL_FILE.name
        if cached.is_file():
            return cached
        try:
            folder.mkdir(parents=True, exist_ok=True)
            save_state(train_recall_gpt(), cached)
            return cached
        except OSError:
            continue
    raise RuntimeError("the recall model is missing and no cache folder is writable")


def load_recall_gpt(device: torch.device | str = "cpu") -> RecallGPT:
    """The shipped, trained RecallGPT in eval mode on `device`."""
    model = RecallGPT()
    model.load_state_dict(torch.load(recall_gpt_path(), map_location="cpu", weights_only=True))
    return model.to(device).eval()
