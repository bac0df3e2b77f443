"""An encoder-decoder (seq2seq) with GRUs: teacher forcing for training, greedy decoding for inference.

Token ids: PAD = 0, SOS = 1, EOS = 2, symbols from 3. A batch holds
    src (B, S)   source tokens, PAD after each row's length       src_len (B,)
    tgt (B, T)   target tokens, the answer then EOS, then PAD
For reversal, src row [5, 9, 3, PAD] has the target [3, 9, 5, EOS, PAD].

Encoder: Embedding + nn.GRU over the source; its final hidden state h_n (1, B, H) is the
summary of the whole source, read at each row's true length (not after the padding).
Decoder: Embedding + nn.GRU + Linear; it starts from the encoder's h_n and predicts the next
target token from the previous one.
Training (teacher forcing): the decoder reads [SOS] + tgt[:-1] and is scored against tgt.
Inference (greedy): start from SOS, feed back the argmax, stop each row at its EOS.

nn.Embedding, nn.GRU, nn.Linear and F.cross_entropy are all fine to use here (the GRU cell was
the earlier lesson). The check builds its references from your modules, so keep the attribute
names: Encoder.embedding, Encoder.gru; Decoder.embedding, Decoder.gru, Decoder.out;
Seq2Seq.encoder, Seq2Seq.decoder.

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
        # TODO: self.embedding and self.gru (one layer, batch_first=True)
        raise NotImplementedError

    def forward(self, src, src_len):
        """src (B, S) long, src_len (B,) -> h_n (1, B, H): the GRU's state after each row's last real token."""
        # TODO: embed; run the GRU so that the PADs after a short row do not change its final state
        #       (pack_padded_sequence(..., src_len.cpu(), batch_first=True, enforce_sorted=False) does it)
        raise NotImplementedError


class Decoder(nn.Module):
    """Embedding(vocab_size, emb_dim) + nn.GRU(emb_dim, hidden_size, batch_first=True) + Linear(H, vocab_size)."""

    def __init__(self, vocab_size, emb_dim, hidden_size):
        super().__init__()
        # TODO: self.embedding, self.gru, self.out
        raise NotImplementedError

    def forward(self, inputs, h):
        """inputs (B, T) long, h (1, B, H) -> (logits (B, T, vocab_size), h_n (1, B, H)).

        The same call serves teacher forcing (T = the target length) and greedy decoding (T = 1).
        Return raw logits (no softmax).
        """
        # TODO: embed, run the GRU from h, project every step's output to the vocabulary
        raise NotImplementedError


def decoder_inputs(tgt):
    """The teacher-forced decoder input: [SOS] + tgt[:, :-1], the same shape (B, T) as tgt. Do not modify tgt."""
    # TODO: a column of SOS, then the target without its last column
    raise NotImplementedError


class Seq2Seq(nn.Module):
    """Encoder + Decoder; forward is the teacher-forced pass used in training."""

    def __init__(self, vocab_size, emb_dim=32, hidden_size=64):
        super().__init__()
        # TODO: self.encoder and self.decoder
        raise NotImplementedError

    def forward(self, src, src_len, tgt):
        """Logits (B, T, vocab_size) for every target position, the decoder reading [SOS] + tgt[:-1]."""
        # TODO: encode; decode decoder_inputs(tgt) starting from the encoder's h_n
        raise NotImplementedError


def seq2seq_loss(logits, tgt):
    """Mean cross-entropy over the target's non-PAD tokens (EOS included). logits (B, T, V), tgt (B, T)."""
    # TODO: flatten to (B*T, V) and (B*T,); PAD must not count, neither in the sum nor in the mean
    raise NotImplementedError


@torch.no_grad()
def greedy_decode(model, src, src_len, max_len):
    """Greedy decoding: (B, L) long, L <= max_len, each row its tokens up to and including EOS, then PAD.

    Start the decoder from the encoder's h_n with SOS as the first input; at each step take the
    argmax, feed it back as the next input and carry the decoder's state. A row that has produced
    EOS is finished: PAD from then on. Stop after max_len steps (or once every row is finished).
    """
    # TODO: h = model.encoder(...); token = a (B, 1) column of SOS; a per-row `done` mask
    # TODO: loop: logits, h = model.decoder(token, h); next token = argmax; PAD where done; update done
    raise NotImplementedError
