"""A complete encoder-decoder Transformer: embeddings scaled by √d_model, sinusoidal positions, an
encoder stack and a decoder stack each closed by a LayerNorm, the four masks, a loss on the shifted
target, the warm-up ("Noam") learning-rate schedule and greedy decoding.

You wrote the layers yourself in the encoder and decoder lessons; here you may use torch's
nn.TransformerEncoderLayer and nn.TransformerDecoderLayer (batch_first=True, post-norm, ReLU: their
defaults) and build everything around them. Do not use nn.Transformer, nn.TransformerEncoder or
nn.TransformerDecoder: the check compares your model with nn.Transformer.

Token ids: PAD = 0, SOS = 1, EOS = 2 (tutor.checking.seqtasks). Everything is batch-first.
Masks follow nn.Transformer: a bool mask is True where attending is BLOCKED (a padding mask: True
at PAD; the causal mask: True above the diagonal, the future). A float causal mask (0 allowed,
-inf blocked, as nn.Transformer.generate_square_subsequent_mask makes) is accepted too.

Run `dltutor check transformer`.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

PAD, SOS, EOS = 0, 1, 2


def sinusoidal_table(T, d):
    """(T, d) float32: column 2i is sin(pos / 10000^(2i/d)), column 2i+1 the cosine (given: you wrote
    it in the positional-encoding lesson)."""
    pos = torch.arange(T, dtype=torch.float64)[:, None]
    angles = pos * torch.exp(-math.log(10000.0) * torch.arange(0, d, 2, dtype=torch.float64) / d)
    table = torch.zeros(T, d, dtype=torch.float64)
    table[:, 0::2] = torch.sin(angles)
    table[:, 1::2] = torch.cos(angles[:, : d // 2])
    return table.float()


def make_masks(src, tgt_in, pad=PAD):
    """The four masks for src (B, S) and tgt_in (B, T) token ids:
    (src_key_padding_mask (B, S), tgt_mask (T, T) causal, tgt_key_padding_mask (B, T),
    memory_key_padding_mask (B, S)), all bool, True = blocked."""
    # TODO: the padding masks are True where the tokens are pad; which tokens are the memory's keys?
    # TODO: the causal mask blocks key j for query i when j > i
    raise NotImplementedError


class Seq2SeqTransformer(nn.Module):
    """Embeddings (× √d_model) + positions -> encoder stack + LayerNorm -> decoder stack + LayerNorm -> Linear.

    Attributes the check uses: src_embed, tgt_embed (nn.Embedding), pe (the (max_len, d_model)
    sinusoidal table, a buffer), encoder_layers, decoder_layers (nn.ModuleList), encoder_norm,
    decoder_norm (nn.LayerNorm), out (nn.Linear(d_model, vocab)).
    """

    def __init__(self, vocab, d_model=64, nhead=4, num_encoder_layers=2, num_decoder_layers=2, d_ff=128,
                 dropout=0.1, max_len=64):
        super().__init__()
        self.d_model = d_model
        # TODO: src_embed and tgt_embed, initialised with std d_model ** -0.5 (nn.init.normal_)
        # TODO: the sinusoidal table as a buffer named pe; a dropout for the embedded inputs
        # TODO: encoder_layers and decoder_layers: nn.ModuleLists of n DIFFERENT layers
        #       (nn.TransformerEncoderLayer / nn.TransformerDecoderLayer, batch_first=True)
        # TODO: encoder_norm, decoder_norm (nn.LayerNorm(d_model)) and out (nn.Linear(d_model, vocab))
        raise NotImplementedError

    def embed(self, tokens, table):
        """(B, L) ids -> (B, L, d_model): table(tokens) · √d_model + pe[:L], then dropout."""
        raise NotImplementedError

    def encode(self, src, src_key_padding_mask=None):
        """src (B, S) -> memory (B, S, d_model)."""
        # TODO: embed, every encoder layer with the padding mask, then the final norm
        raise NotImplementedError

    def decode(self, tgt_in, memory, tgt_mask=None, tgt_key_padding_mask=None, memory_key_padding_mask=None):
        """tgt_in (B, T), memory (B, S, d_model) -> the decoder's output (B, T, d_model), before `out`."""
        # TODO: embed, every decoder layer with its three masks, then the final norm
        raise NotImplementedError

    def forward(self, src, tgt_in):
        """src (B, S), tgt_in (B, T) -> logits (B, T, vocab)."""
        # TODO: make_masks, encode, decode, out
        raise NotImplementedError


def transformer_loss(model, src, tgt):
    """Teacher forcing: the model reads [SOS] + tgt[:, :-1] and is scored on tgt by the mean
    cross-entropy over its non-PAD tokens (EOS included)."""
    raise NotImplementedError


def noam_lr(step, d_model, warmup):
    """d_model^-0.5 · min(step^-0.5, step · warmup^-1.5) for step >= 1 (the step-th optimizer step);
    0.0 at step 0, the formula's limit (no ZeroDivisionError)."""
    raise NotImplementedError


def noam_schedule(optimizer, d_model, warmup):
    """A LambdaLR under which the k-th optimizer.step() (k = 1, 2, ...) uses base_lr · noam_lr(k).
    LambdaLR calls the lambda with 0 when it is built, and with i after its i-th scheduler.step()."""
    # TODO: torch.optim.lr_scheduler.LambdaLR(optimizer, lambda i: ...)
    raise NotImplementedError


@torch.no_grad()
def greedy_decode(model, src, max_len):
    """(B, L) token ids, L <= max_len: from SOS, append the argmax of the last position each step;
    each row keeps its tokens up to and including its EOS, then PAD; stop when every row is done."""
    # TODO: encode once (with the source padding mask); tokens = a (B, 1) column of SOS; a `done` mask
    # TODO: loop: decode the prefix (causal mask, memory padding mask); next = argmax at the LAST position;
    #       append PAD where done; done |= next == EOS; stop when all done
    raise NotImplementedError
