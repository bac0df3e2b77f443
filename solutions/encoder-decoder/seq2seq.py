"""An encoder-decoder (seq2seq) with GRUs: teacher forcing for training, greedy decoding for inference.

Token ids: PAD = 0, SOS = 1, EOS = 2, symbols from 3. A batch holds
    src (B, S)   source tokens, PAD after each row's length       src_len (B,)
    tgt (B, T)   target tokens, the answer then EOS, then PAD

Encoder: Embedding + nn.GRU over the source; its final hidden state h_n (1, B, H) is the
summary of the whole source, read at each row's true length (not after the padding).
Decoder: Embedding + nn.GRU + Linear; it starts from the encoder's h_n and predicts the next
target token from the previous one.
Training (teacher forcing): the decoder reads [SOS] + tgt[:-1] and is scored against tgt.
Inference (greedy): start from SOS, feed back the argmax, stop each row at its EOS.

Work on the whole batch at once: the check trains on 120 batches of 128 and decodes 512
sequences, so a Python loop over the rows works but is slow.

Run `dltutor check encoder-decoder`.
"""

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

PAD, SOS, EOS = 0, 1, 2


class Encoder(nn.Module):
    """Embedding(vocab_size, emb_dim) + nn.GRU(emb_dim, hidden_size, batch_first=True)."""

    def __init__(self, vocab_size, emb_dim, hidden_size):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_dim, padding_idx=PAD)
        self.gru = nn.GRU(emb_dim, hidden_size, batch_first=True)

    def forward(self, src, src_len):
        """src (B, S) long, src_len (B,) -> h_n (1, B, H): the GRU's state after each row's last real token."""
        packed = pack_padded_sequence(self.embedding(src), src_len.cpu(), batch_first=True, enforce_sorted=False)
        _, h_n = self.gru(packed)
        return h_n


class Decoder(nn.Module):
    """Embedding(vocab_size, emb_dim) + nn.GRU(emb_dim, hidden_size, batch_first=True) + Linear(H, vocab_size)."""

    def __init__(self, vocab_size, emb_dim, hidden_size):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_dim, padding_idx=PAD)
        self.gru = nn.GRU(emb_dim, hidden_size, batch_first=True)
        self.out = nn.Linear(hidden_size, vocab_size)

    def forward(self, inputs, h):
        """inputs (B, T) long, h (1, B, H) -> (logits (B, T, vocab_size), h_n (1, B, H))."""
        output, h_n = self.gru(self.embedding(inputs), h)
        return self.out(output), h_n


def decoder_inputs(tgt):
    """The teacher-forced decoder input: [SOS] + tgt[:, :-1], the same shape (B, T) as tgt."""
    sos = torch.full_like(tgt[:, :1], SOS)
    return torch.cat([sos, tgt[:, :-1]], dim=1)


class Seq2Seq(nn.Module):
    """Encoder + Decoder; forward is the teacher-forced pass used in training."""

    def __init__(self, vocab_size, emb_dim=32, hidden_size=64):
        super().__init__()
        self.encoder = Encoder(vocab_size, emb_dim, hidden_size)
        self.decoder = Decoder(vocab_size, emb_dim, hidden_size)

    def forward(self, src, src_len, tgt):
        """Logits (B, T, vocab_size) for every target position, the decoder reading [SOS] + tgt[:-1]."""
        h = self.encoder(src, src_len)
        logits, _ = self.decoder(decoder_inputs(tgt), h)
        return logits


def seq2seq_loss(logits, tgt):
    """Mean cross-entropy over the target's non-PAD tokens (EOS included). logits (B, T, V), tgt (B, T)."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1), ignore_index=PAD)


@torch.no_grad()
def greedy_decode(model, src, src_len, max_len):
    """Greedy decoding: (B, L) long, L <= max_len, each row its tokens up to and including EOS, then PAD."""
    h = model.encoder(src, src_len)
    token = torch.full((src.shape[0], 1), SOS, dtype=torch.long, device=src.device)
    done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
    out = []
    for _ in range(max_len):
        logits, h = model.decoder(token, h)
        token = logits[:, -1].argmax(dim=-1, keepdim=True)
        out.append(token.squeeze(1).masked_fill(done, PAD))
        done = done | (token.squeeze(1) == EOS)
        if done.all():
            break
    return torch.stack(out, dim=1)
