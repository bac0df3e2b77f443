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
    return src != PAD


class Encoder(nn.Module):
    """Embedding + nn.GRU(batch_first=True); forward returns every step's output and the final state."""

    def __init__(self, vocab_size, emb_dim, hidden_size):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_dim, padding_idx=PAD)
        self.gru = nn.GRU(emb_dim, hidden_size, batch_first=True)

    def forward(self, src, src_len):
        """src (B, S), src_len (B,) -> (outputs (B, S, H), h_n (1, B, H)), h_n after each row's last real token."""
        packed = pack_padded_sequence(self.embedding(src), src_len.cpu(), batch_first=True, enforce_sorted=False)
        outputs, h_n = self.gru(packed)
        outputs, _ = pad_packed_sequence(outputs, batch_first=True, total_length=src.shape[1])
        return outputs, h_n


class LuongAttention(nn.Module):
    """score(h_t, h̄_s) = h_tᵀ h̄_s ("dot") or h_tᵀ W_a h̄_s ("general", self.W_a = Linear(H, H, bias=False))."""

    def __init__(self, hidden_size, method="general"):
        super().__init__()
        if method not in ("dot", "general"):
            raise ValueError(f"method must be 'dot' or 'general', got {method!r}")
        self.method = method
        if method == "general":
            self.W_a = nn.Linear(hidden_size, hidden_size, bias=False)

    def forward(self, query, keys, mask):
        """query (B, T, H), keys (B, S, H), mask (B, S) bool (True = real) -> (context (B, T, H), weights (B, T, S))."""
        if self.method == "general":
            keys_proj = self.W_a(keys)
        else:
            keys_proj = keys
        scores = query @ keys_proj.transpose(1, 2)
        scores = scores.masked_fill(~mask[:, None, :], float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        return weights @ keys, weights


class AttnDecoder(nn.Module):
    """Embedding + GRU + LuongAttention + W_c = Linear(2H, H) + out = Linear(H, vocab_size)."""

    def __init__(self, vocab_size, emb_dim, hidden_size, method="general", attention=True):
        super().__init__()
        self.use_attention = attention
        self.embedding = nn.Embedding(vocab_size, emb_dim, padding_idx=PAD)
        self.gru = nn.GRU(emb_dim, hidden_size, batch_first=True)
        self.attention = LuongAttention(hidden_size, method)
        self.W_c = nn.Linear(2 * hidden_size, hidden_size)
        self.out = nn.Linear(hidden_size, vocab_size)

    def forward(self, inputs, h, enc_outputs, mask):
        """inputs (B, T), h (1, B, H), enc_outputs (B, S, H), mask (B, S)
        -> (logits (B, T, V), h_n (1, B, H), weights (B, T, S), or None without attention)."""
        states, h_n = self.gru(self.embedding(inputs), h)
        if self.use_attention:
            context, weights = self.attention(states, enc_outputs, mask)
        else:
            context, weights = torch.zeros_like(states), None
        attentional = torch.tanh(self.W_c(torch.cat([context, states], dim=-1)))
        return self.out(attentional), h_n, weights


class Seq2SeqAttention(nn.Module):
    """Encoder + AttnDecoder; forward is the teacher-forced pass used in training."""

    def __init__(self, vocab_size, emb_dim=32, hidden_size=64, method="general", attention=True):
        super().__init__()
        self.encoder = Encoder(vocab_size, emb_dim, hidden_size)
        self.decoder = AttnDecoder(vocab_size, emb_dim, hidden_size, method, attention)

    def forward(self, src, src_len, tgt):
        """-> (logits (B, T, V), weights (B, T, S) or None), the decoder reading [SOS] + tgt[:-1]."""
        enc_outputs, h = self.encoder(src, src_len)
        logits, _, weights = self.decoder(decoder_inputs(tgt), h, enc_outputs, source_mask(src))
        return logits, weights


@torch.no_grad()
def greedy_decode(model, src, src_len, max_len):
    """-> (tokens (B, L) long, L <= max_len, PAD after each row's EOS; weights (B, L, S) or None)."""
    enc_outputs, h = model.encoder(src, src_len)
    mask = source_mask(src)
    token = torch.full((src.shape[0], 1), SOS, dtype=torch.long, device=src.device)
    done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
    tokens, weights = [], []
    for _ in range(max_len):
        logits, h, w = model.decoder(token, h, enc_outputs, mask)
        token = logits[:, -1].argmax(dim=-1, keepdim=True)
        tokens.append(token.squeeze(1).masked_fill(done, PAD))
        if w is not None:
            weights.append(w[:, -1])
        done = done | (token.squeeze(1) == EOS)
        if done.all():
            break
    return torch.stack(tokens, dim=1), (torch.stack(weights, dim=1) if weights else None)
