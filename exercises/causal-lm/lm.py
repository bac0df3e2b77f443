"""Causal language modelling: the shifted loss, sampling with temperature, top-k and top-p,
generation, perplexity, and a tiny character GPT trained on an order-2 Markov language.

Shapes: idx is (B, T) token ids; a model maps idx to logits (B, T, V), where logits[:, t]
predicts token t + 1 from tokens 0..t. Removed tokens are set to float("-inf").

So that the check can compare your samples with its own, id for id, draw every sample with
exactly this call, once per sample_next call:

    torch.multinomial(probs, 1, generator=generator)

Run `dltutor check causal-lm`.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn


def lm_loss(logits, idx, pad=None):
    """Mean next-token cross-entropy (nats): logits[:, t] is scored against idx[:, t + 1].

    logits (B, T, V), idx (B, T); returns a 0-d tensor. With pad given, targets equal to pad
    do not count: the mean runs over the real targets only."""
    # TODO: flatten logits[:, :-1] to (B·(T-1), V) and idx[:, 1:] to (B·(T-1),);
    # F.cross_entropy (with ignore_index=pad when pad is not None)
    raise NotImplementedError("lm_loss")


def filter_logits(logits, top_k=None, top_p=None):
    """A copy of logits (..., V) with the tokens outside top-k, then outside top-p, set to -inf.

    top_k keeps every token whose logit is >= the k-th largest (ties at the k-th value are all
    kept; a k larger than V keeps everything). top_p keeps the smallest set of most probable
    tokens whose probability mass is >= p, INCLUDING the token that crosses p; it is measured on
    the softmax of what top-k left. Do not modify the input in place."""
    # TODO: top-k: the k-th largest value with torch.topk; masked_fill(logits < kth, -inf)
    # TODO: top-p: softmax, sort descending, the mass BEFORE each token; drop a token when that
    # mass is already >= p; scatter the decision back to the original order
    raise NotImplementedError("filter_logits")


def sample_next(logits, temperature=1.0, top_k=None, top_p=None, generator=None):
    """One token id per row of logits (B, V) -> (B,) long.

    temperature 0 is greedy (argmax). Otherwise: divide the logits by the temperature, filter
    them, softmax, and draw with torch.multinomial(probs, 1, generator=generator)."""
    # TODO
    raise NotImplementedError("sample_next")


def generate(model, idx, max_new_tokens, block_size, temperature=1.0, top_k=None, top_p=None, generator=None):
    """idx (B, T) -> (B, T + max_new_tokens): append one sampled token at a time.

    The model must see at most the last block_size tokens; the logits at its last position give
    the next token. No gradients are needed here."""
    # TODO: loop max_new_tokens times: crop, model(...)[:, -1], sample_next, torch.cat
    raise NotImplementedError("generate")


def perplexity(losses, counts):
    """exp of the mean NLL per token, from per-batch MEAN losses (nats) and their token counts.

    losses and counts are lists or 1-D tensors of the same length; return a float."""
    # TODO
    raise NotImplementedError("perplexity")


class CharGPT(nn.Module):
    """A small causal language model: (B, T) ids -> (B, T, vocab_size) logits, for T <= block_size.

    Suggested: token and position embeddings, n_layer pre-norm blocks, a final LayerNorm and a
    linear head. You built the block by hand in the GPT lesson; here you may use
    nn.TransformerEncoderLayer(d_model, n_head, 4 * d_model, dropout=0.0, batch_first=True,
    norm_first=True) with a causal mask, or your own Block. Any causal model that learns the
    language in the check's budget is fine (the check passes only vocab_size and block_size)."""

    def __init__(self, vocab_size, block_size, d_model=32, n_head=4, n_layer=1):
        super().__init__()
        # TODO
        raise NotImplementedError("CharGPT.__init__")

    def forward(self, idx):
        # TODO: embeddings + positions, blocks with a causal mask, norm, head
        raise NotImplementedError("CharGPT.forward")


def train_lm(model, data, steps=250, block_size=16, batch_size=32, generator=None):
    """Train on random windows data[i : i + block_size] of a 1-D token stream; return the losses.

    Draw the window starts with torch.randint(..., generator=generator) (a CPU generator); data
    may live on the GPU. Use lm_loss and an optimizer of your choice; return a list of `steps`
    floats (the loss at each step)."""
    # TODO
    raise NotImplementedError("train_lm")
