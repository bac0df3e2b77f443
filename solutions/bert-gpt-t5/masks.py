"""Attention masks of the three Transformer families, in one convention: True = may attend.

mask[i, j] is True when the query at position i may read the key at position j. That is the
convention of F.scaled_dot_product_attention's boolean attn_mask; nn.MultiheadAttention and
nn.Transformer* take the opposite one (True = blocked), so pass them ~mask.

Run `dltutor check bert-gpt-t5`.
"""

import torch

ARCHS = ("encoder", "decoder", "prefix_lm", "encoder_decoder")


def mask_for(arch, T, prefix_len=None, source_len=None):
    """The boolean attention mask(s) of `arch` for T positions (True = may attend).

    "encoder" (BERT): (T, T), every position sees every position.
    "decoder" (GPT): (T, T), position i sees positions 0..i (the diagonal included).
    "prefix_lm": (T, T), the first prefix_len positions see each other both ways; every later
        position sees the whole prefix and, causally, the positions after it up to itself.
    "encoder_decoder" (T5): a dict of three masks for a source of source_len positions (default
        T) and a target of T positions: "encoder" (source_len, source_len) all True, "decoder"
        (T, T) causal, "cross" (T, source_len) all True (rows: decoder queries, columns: encoder keys).
    """
    if arch == "encoder":
        return torch.ones(T, T, dtype=torch.bool)
    if arch == "decoder":
        return torch.tril(torch.ones(T, T, dtype=torch.bool))
    if arch == "prefix_lm":
        mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
        mask[:, :prefix_len] = True          # everyone reads the whole prefix
        return mask
    if arch == "encoder_decoder":
        S = T if source_len is None else source_len
        return {
            "encoder": torch.ones(S, S, dtype=torch.bool),
            "decoder": torch.tril(torch.ones(T, T, dtype=torch.bool)),
            "cross": torch.ones(T, S, dtype=torch.bool),
        }
    raise ValueError(f"unknown arch {arch!r}; expected one of {ARCHS}")
