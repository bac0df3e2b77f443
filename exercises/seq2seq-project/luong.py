"""A seq2seq model with Luong (multiplicative) attention, and the same model without it.

Token ids: PAD = 0, SOS = 1, EOS = 2, symbols from 3. A batch holds src (B, S) with src_len (B,)
and tgt (B, T): the answer, then EOS, then PAD.

Luong's global attention (Luong, Pham and Manning, 2015), at every decoder step t:
    h_t   = GRU(embedding(y_{t-1}), h_{t-1})          the decoder state is the QUERY
    a_t   = softmax over the source of score(h_t, h̄_s), PAD positions excluded
    c_t   = sum_s a_ts h̄_s                             the context (h̄_s: encoder outputs)
    h̃_t   = tanh(W_c [c_t; h_t])                       the attentional hidden state
    logits = W_s h̃_t
score "dot": h_tᵀ h̄_s;  score "general": h_tᵀ W_a h̄_s (W_a = nn.Linear(H, H, bias=False)).
The scores are not scaled. With attention=False the context is zeros: the same layers, the same
parameters, only what c_t carries is gone (the encoder-decoder of the earlier lesson, plus W_c).

Work on whole batches: the check trains two models on 120 batches of 64 reversals of 10-12 symbols.
Run `dltutor check seq2seq-project`.
"""

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

PAD, SOS, EOS = 0, 1, 2


def decoder_inputs(tgt):
    """The teacher-forced decoder input [SOS] + tgt[:, :-1] (written in the encoder-decoder lesson)."""
    return torch.cat([torch.full_like(tgt[:, :1], SOS), tgt[:, :-1]], dim=1)


def source_mask(src):
    """(B, S) bool: True at the source's real tokens, False at PAD."""
    # TODO: one comparison.
    raise NotImplementedError("source_mask")


class Encoder(nn.Module):
    """Embedding + nn.GRU(batch_first=True); forward returns every step's output and the final state."""

    def __init__(self, vocab_size, emb_dim, hidden_size):
        super().__init__()
        # TODO: self.embedding = nn.Embedding(...), self.gru = nn.GRU(..., batch_first=True)
        raise NotImplementedError("Encoder.__init__")

    def forward(self, src, src_len):
        """src (B, S), src_len (B,) -> (outputs (B, S, H), h_n (1, B, H)), h_n after each row's last real token.

        outputs must be S = src.shape[1] wide, even when no row fills the last column.
        """
        # TODO: pack, run the GRU, unpack (pad_packed_sequence(..., total_length=...)).
        raise NotImplementedError("Encoder.forward")


class LuongAttention(nn.Module):
    """score(h_t, h̄_s) = h_tᵀ h̄_s ("dot") or h_tᵀ W_a h̄_s ("general", self.W_a = Linear(H, H, bias=False)).

    Do not use F.scaled_dot_product_attention or nn.MultiheadAttention (the check forbids them).
    """

    def __init__(self, hidden_size, method="general"):
        super().__init__()
        # TODO: keep the method; create self.W_a for "general" only.
        raise NotImplementedError("LuongAttention.__init__")

    def forward(self, query, keys, mask):
        """query (B, T, H), keys (B, S, H), mask (B, S) bool (True = real) -> (context (B, T, H), weights (B, T, S))."""
        # TODO: scores (B, T, S); -inf where mask is False; softmax over the source; context = weights @ keys.
        raise NotImplementedError("LuongAttention.forward")


class AttnDecoder(nn.Module):
    """Embedding + GRU + LuongAttention + W_c = Linear(2H, H) + out = Linear(H, vocab_size).

    Attribute names the check reads: self.embedding, self.gru, self.attention, self.W_c, self.out.
    """

    def __init__(self, vocab_size, emb_dim, hidden_size, method="general", attention=True):
        super().__init__()
        # TODO: the five modules (create self.attention even when attention=False) and remember the flag.
        raise NotImplementedError("AttnDecoder.__init__")

    def forward(self, inputs, h, enc_outputs, mask):
        """inputs (B, T), h (1, B, H), enc_outputs (B, S, H), mask (B, S)
        -> (logits (B, T, V), h_n (1, B, H), weights (B, T, S), or None without attention)."""
        # TODO: GRU states h_t -> context c_t (zeros without attention) -> tanh(W_c [c_t; h_t]) -> out.
        raise NotImplementedError("AttnDecoder.forward")


class Seq2SeqAttention(nn.Module):
    """Encoder + AttnDecoder; forward is the teacher-forced pass used in training."""

    def __init__(self, vocab_size, emb_dim=32, hidden_size=64, method="general", attention=True):
        super().__init__()
        # TODO: self.encoder and self.decoder.
        raise NotImplementedError("Seq2SeqAttention.__init__")

    def forward(self, src, src_len, tgt):
        """-> (logits (B, T, V), weights (B, T, S) or None), the decoder reading [SOS] + tgt[:-1]."""
        # TODO: encode, then decode decoder_inputs(tgt) from h_n over the outputs with source_mask(src).
        raise NotImplementedError("Seq2SeqAttention.forward")


@torch.no_grad()
def greedy_decode(model, src, src_len, max_len):
    """-> (tokens (B, L) long, L <= max_len, PAD after each row's EOS; weights (B, L, S) or None).

    As in the encoder-decoder lesson: start from SOS and h_n, feed back the argmax, carry the state,
    stop each row at its own EOS. Keep each step's weights (B, S) and stack them.
    """
    # TODO
    raise NotImplementedError("greedy_decode")
