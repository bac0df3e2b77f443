"""Parameter counts of an encoder-only, a decoder-only and an encoder-decoder model at equal size.

All three are built from PyTorch's blocks with d_model = d, feed-forward width d_ff, and L layers
per stack (nhead does not change the count):

- "encoder" (BERT-like): nn.Embedding(vocab, d), L nn.TransformerEncoderLayer, a final nn.LayerNorm;
- "decoder" (GPT-like): the same pieces; a GPT block is an encoder layer with a causal mask;
- "encoder_decoder" (T5-like): ONE embedding shared by both stacks, L encoder layers and a final
  LayerNorm, L nn.TransformerDecoderLayer (self-attention, cross-attention, FFN) and a final LayerNorm.

Every model's output head is tied to its embedding (logits = h @ E.T), so it adds no parameters.
No positional parameters are counted.

Run `dltutor check bert-gpt-t5`.
"""


def param_counts(vocab, d, L, d_ff):
    """{"encoder": n, "decoder": n, "encoder_decoder": n}: the parameter counts (ints)."""
    # TODO: count attention, the FFN and a LayerNorm once; assemble the layers, then the models
    raise NotImplementedError("param_counts")
