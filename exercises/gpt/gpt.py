"""GPT: a decoder-only Transformer with pre-norm causal blocks, learned positions and a tied head.

Everything is batch-first: idx is (B, T) token ids, activations are (B, T, d_model). Use the names
of GPT-2 (and nanoGPT), the check looks for them: c_attn, c_proj, c_fc, ln_1, ln_2, attn, mlp, wte,
wpe, blocks, ln_f, lm_head.

Do not use nn.MultiheadAttention or F.scaled_dot_product_attention (is_causal=True would do the
masking for you), nor nn.TransformerEncoderLayer: the check compares your Block with it.

Run `dltutor check gpt`.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class GPTConfig:
    vocab_size: int = 50257
    block_size: int = 1024
    n_layer: int = 12
    n_head: int = 12
    d_model: int = 768
    dropout: float = 0.0


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention in which position t sees positions 0..t only.

    c_attn = nn.Linear(d_model, 3·d_model) makes q, k and v at once (in that order, d_model
    features each); c_proj = nn.Linear(d_model, d_model) mixes the merged heads."""

    def __init__(self, config):
        super().__init__()
        # TODO: self.n_head; self.c_attn, self.c_proj; nn.Dropout(config.dropout) for the
        # attention weights and for the output
        raise NotImplementedError("CausalSelfAttention.__init__")

    def forward(self, x):
        """(B, T, d_model) -> (B, T, d_model)."""
        # TODO: q, k, v = self.c_attn(x).split(d_model, dim=2); split the heads to (B, h, T, d_k);
        # scores / √d_k; fill the FUTURE (key j > query i) with -inf; softmax over the keys;
        # weights @ v; merge the heads; c_proj
        raise NotImplementedError("CausalSelfAttention.forward")


class MLP(nn.Module):
    """Position-wise feed-forward: c_fc (d_model -> 4·d_model), GELU with the tanh approximation
    (GPT-2's), c_proj (4·d_model -> d_model), dropout."""

    def __init__(self, config):
        super().__init__()
        raise NotImplementedError("MLP.__init__")

    def forward(self, x):
        # TODO: F.gelu(..., approximate="tanh"), not the exact erf GELU
        raise NotImplementedError("MLP.forward")


class Block(nn.Module):
    """Pre-norm: x = x + attn(ln_1(x)); x = x + mlp(ln_2(x))."""

    def __init__(self, config):
        super().__init__()
        # TODO: ln_1, attn (CausalSelfAttention), ln_2 (nn.LayerNorm(d_model)), mlp (MLP)
        raise NotImplementedError("Block.__init__")

    def forward(self, x):
        raise NotImplementedError("Block.forward")


class GPT(nn.Module):
    """wte (vocab_size × d_model), wpe (block_size × d_model), dropout, blocks (nn.ModuleList of
    n_layer Blocks), ln_f, lm_head = nn.Linear(d_model, vocab_size, bias=False) TIED to wte."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        # TODO: the modules above; tie the head: self.lm_head.weight = self.wte.weight (the same
        # Parameter object, not a copy); then self.apply(self._init_weights); then every
        # c_proj.weight (attention and MLP) gets N(0, (0.02 / √(2·n_layer))²)
        raise NotImplementedError("GPT.__init__")

    def _init_weights(self, module):
        """GPT-2's init: nn.Linear and nn.Embedding weights N(0, 0.02²), biases 0; LayerNorm 1 and 0."""
        raise NotImplementedError("GPT._init_weights")

    def forward(self, idx, targets=None):
        """idx (B, T) with T <= block_size -> (logits (B, T, vocab_size), loss). targets (B, T) are
        the NEXT tokens (already shifted); loss is the mean cross-entropy over the B·T positions,
        None when targets is None."""
        # TODO: wte(idx) + wpe(positions 0..T-1), dropout, the blocks, ln_f, lm_head
        raise NotImplementedError("GPT.forward")


def gpt2_params(vocab=50257, block=1024, n_layer=12, n_head=12, d=768, tied=True):
    """The number of parameters of GPT(GPTConfig(vocab, block, n_layer, n_head, d)), counted from
    the shapes; with tied=False the head has its own vocab × d matrix."""
    # TODO: embeddings + n_layer × (two LayerNorms, c_attn, c_proj, c_fc, c_proj) + ln_f (+ head)
    raise NotImplementedError("gpt2_params")
