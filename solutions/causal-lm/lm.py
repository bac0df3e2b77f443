"""Causal language modelling: the shifted loss, sampling with temperature, top-k and top-p,
generation, perplexity, and a tiny character GPT trained on an order-2 Markov language.

Shapes: idx is (B, T) token ids; a model maps idx to logits (B, T, V), where logits[:, t]
predicts token t + 1 from tokens 0..t. Run `dltutor check causal-lm`.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn


def lm_loss(logits, idx, pad=None):
    """Mean next-token cross-entropy (nats): logits[:, t] is scored against idx[:, t + 1].

    logits (B, T, V), idx (B, T). With pad given, targets equal to pad do not count: the mean
    runs over the real targets only."""
    V = logits.shape[-1]
    pred = logits[:, :-1].reshape(-1, V)
    target = idx[:, 1:].reshape(-1)
    if pad is None:
        return F.cross_entropy(pred, target)
    return F.cross_entropy(pred, target, ignore_index=pad)


def filter_logits(logits, top_k=None, top_p=None):
    """A copy of logits (..., V) with the tokens outside top-k, then outside top-p, set to -inf.

    top_k keeps every token whose logit is >= the k-th largest (ties at the k-th value are all
    kept). top_p keeps the smallest set of most probable tokens whose probability mass is >= p,
    including the token that crosses p; it is measured on the softmax of the top-k survivors."""
    out = logits.clone()
    if top_k is not None:
        k = min(top_k, out.shape[-1])
        kth = torch.topk(out, k, dim=-1).values[..., -1:]
        out = out.masked_fill(out < kth, float("-inf"))
    if top_p is not None:
        probs = F.softmax(out, dim=-1)
        sorted_p, order = probs.sort(dim=-1, descending=True)
        before = sorted_p.cumsum(dim=-1) - sorted_p          # mass of the more probable tokens
        drop_sorted = before >= top_p
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        out = out.masked_fill(drop, float("-inf"))
    return out


def sample_next(logits, temperature=1.0, top_k=None, top_p=None, generator=None):
    """One token id per row of logits (B, V) -> (B,) long.

    temperature 0 is greedy (argmax). Otherwise divide the logits by the temperature, filter,
    softmax, and draw with torch.multinomial(probs, 1, generator=generator)."""
    if temperature == 0:
        return logits.argmax(dim=-1)
    scaled = filter_logits(logits / temperature, top_k, top_p)
    probs = F.softmax(scaled, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


@torch.no_grad()
def generate(model, idx, max_new_tokens, block_size, temperature=1.0, top_k=None, top_p=None, generator=None):
    """idx (B, T) -> (B, T + max_new_tokens): append one sampled token at a time.

    The model sees at most the last block_size tokens; its last position's logits give the next."""
    for _ in range(max_new_tokens):
        context = idx[:, -block_size:]
        logits = model(context)[:, -1]
        nxt = sample_next(logits, temperature, top_k, top_p, generator)
        idx = torch.cat([idx, nxt[:, None]], dim=1)
    return idx


def perplexity(losses, counts):
    """exp of the mean NLL per token, from per-batch mean losses and their token counts."""
    losses = torch.as_tensor(losses, dtype=torch.float64)
    counts = torch.as_tensor(counts, dtype=torch.float64)
    return math.exp(float((losses * counts).sum() / counts.sum()))


class CharGPT(nn.Module):
    """Token and position embeddings, pre-norm causal Transformer blocks, a final norm, a head."""

    def __init__(self, vocab_size, block_size, d_model=32, n_head=4, n_layer=1):
        super().__init__()
        self.block_size = block_size
        self.tok = nn.Embedding(vocab_size, d_model)
        self.pos = nn.Embedding(block_size, d_model)
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(d_model, n_head, 4 * d_model, dropout=0.0, activation="gelu",
                                       batch_first=True, norm_first=True)
            for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)

    def forward(self, idx):
        T = idx.shape[1]
        x = self.tok(idx) + self.pos(torch.arange(T, device=idx.device))
        mask = nn.Transformer.generate_square_subsequent_mask(T, device=idx.device)
        for block in self.blocks:
            x = block(x, src_mask=mask, is_causal=True)
        return self.head(self.ln_f(x))


def train_lm(model, data, steps=250, block_size=16, batch_size=32, generator=None):
    """Train on random windows data[i : i + block_size] of a 1-D token stream; return the losses."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    offsets = torch.arange(block_size)
    losses = []
    model.train()
    for _ in range(steps):
        i = torch.randint(0, len(data) - block_size + 1, (batch_size,), generator=generator)
        x = data[(i[:, None] + offsets).to(data.device)]
        loss = lm_loss(model(x), x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses
