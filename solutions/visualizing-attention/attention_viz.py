"""A Bahdanau (additive) attention decoder that returns its weights, the weights of a whole batch,
a text heatmap of them that fits the terminal, and an alignment score for sequence reversal.

Token ids: PAD = 0, SOS = 1, EOS = 2, symbols from 3. A batch (tutor.checking.seqtasks.SeqBatch) has
    src (B, S)  source tokens, PAD after each row's length      src_len (B,)
    tgt (B, T)  the source reversed, then EOS, then PAD         tgt_len (B,) = src_len + 1
Attention weights are (B, T_dec, T_enc) = (B, T, S): a ROW per output (target) position, a COLUMN per
input (source) position; each row is a distribution over the real source positions (PAD gets 0).

The encoder, the decoder's modules and the training model are given. Run `dltutor check visualizing-attention`.
"""

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

PAD, SOS, EOS = 0, 1, 2
SHADES = " .:-=+*#%@"  # text_heatmap's characters, from weight 0 (blank) to the highest weight


class Encoder(nn.Module):
    """Given. forward(src, src_len) -> (keys (B, S, 2H), values (B, S, E)), both zero at PAD.

    The keys are a bidirectional GRU's states (they know each token's position and neighbours);
    the values are the source tokens' own embeddings, so the decoder can read token j only by
    putting its attention on position j: the heatmap then shows everything the decoder reads.
    """

    def __init__(self, vocab_size, emb_dim, hidden_size):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_dim, padding_idx=PAD)
        self.gru = nn.GRU(emb_dim, hidden_size, batch_first=True, bidirectional=True)

    def forward(self, src, src_len):
        embedded = self.embedding(src)
        packed = pack_padded_sequence(embedded, src_len.cpu(), batch_first=True, enforce_sorted=False)
        keys, _ = pad_packed_sequence(self.gru(packed)[0], batch_first=True, total_length=src.shape[1])
        return keys, embedded


class BahdanauDecoder(nn.Module):
    """One decoder step with additive (Bahdanau) attention; the modules are given, `step` is yours."""

    def __init__(self, vocab_size, emb_dim, hidden_size):
        super().__init__()
        self.hidden_size = hidden_size
        self.embedding = nn.Embedding(vocab_size, emb_dim, padding_idx=PAD)
        self.W_q = nn.Linear(hidden_size, hidden_size, bias=False)       # the query: the PREVIOUS state
        self.W_k = nn.Linear(2 * hidden_size, hidden_size, bias=False)   # the keys: the encoder's states
        self.w_v = nn.Linear(hidden_size, 1, bias=False)
        self.cell = nn.GRUCell(2 * emb_dim, hidden_size)                 # reads [embedding, context]
        self.out = nn.Linear(hidden_size + emb_dim, vocab_size)          # reads [new state, context]

    def step(self, token, hidden, keys, values, src_mask):
        """token (B,) long, hidden (B, H), keys (B, S, 2H), values (B, S, E), src_mask (B, S) bool
        (True = a real source token) -> (logits (B, V), new hidden (B, H), weights (B, S)).

        scores_j = w_vᵀ tanh(W_q hidden + W_k keys_j), from the state BEFORE this step's update;
        weights = softmax over the REAL source positions (PAD exactly 0); context = Σ_j weights_j
        values_j; new hidden = cell([embedding(token), context], hidden); logits = out([new hidden,
        context]).
        """
        scores = self.w_v(torch.tanh(self.W_q(hidden).unsqueeze(1) + self.W_k(keys))).squeeze(-1)
        weights = torch.softmax(scores.masked_fill(~src_mask, float("-inf")), dim=-1)
        context = torch.bmm(weights.unsqueeze(1), values).squeeze(1)
        hidden = self.cell(torch.cat([self.embedding(token), context], dim=-1), hidden)
        logits = self.out(torch.cat([hidden, context], dim=-1))
        return logits, hidden, weights


class AttentionSeq2Seq(nn.Module):
    """Given. Encoder + BahdanauDecoder; forward is the teacher-forced pass used in training.

    The decoder starts from a zero state: all it learns about the source comes through attention.
    """

    def __init__(self, vocab_size, emb_dim=16, hidden_size=32):
        super().__init__()
        self.encoder = Encoder(vocab_size, emb_dim, hidden_size)
        self.decoder = BahdanauDecoder(vocab_size, emb_dim, hidden_size)

    def forward(self, src, src_len, tgt):
        """Logits (B, T, V): the decoder reads [SOS] + tgt[:, :-1], one step at a time."""
        keys, values = self.encoder(src, src_len)
        hidden = keys.new_zeros(src.shape[0], self.decoder.hidden_size)
        mask = src != PAD
        inputs = torch.cat([torch.full_like(tgt[:, :1], SOS), tgt[:, :-1]], dim=1)
        logits = []
        for t in range(tgt.shape[1]):
            step_logits, hidden, _ = self.decoder.step(inputs[:, t], hidden, keys, values, mask)
            logits.append(step_logits)
        return torch.stack(logits, dim=1)


@torch.no_grad()
def attention_maps(model, batch):
    """The teacher-forced attention weights (B, T_dec, T_enc) = (B, tgt width, src width) of a batch.

    Row t of example b is the decoder's weights at step t (reading [SOS] + tgt[:, :-1]); the
    columns are the source positions; the PAD columns are exactly 0. Eval mode, no gradients.
    """
    model.eval()
    keys, values = model.encoder(batch.src, batch.src_len)
    hidden = keys.new_zeros(batch.src.shape[0], model.decoder.hidden_size)
    mask = batch.src != PAD
    inputs = torch.cat([torch.full_like(batch.tgt[:, :1], SOS), batch.tgt[:, :-1]], dim=1)
    maps = []
    for t in range(inputs.shape[1]):
        _, hidden, weights = model.decoder.step(inputs[:, t], hidden, keys, values, mask)
        maps.append(weights)
    return torch.stack(maps, dim=1)


def text_heatmap(weights, src_tokens, tgt_tokens, width=80):
    """One example's weights as text: the source tokens across the top, a line per target token.

    The first line is the header: the source tokens, each over its column. Directly under it, a
    line per target token in order: the token on the left, then its cells. weights (T_dec, T_enc)
    may be padded: draw only the first len(tgt_tokens) rows and the first len(src_tokens) columns.
    Each cell is a SHADES character repeated over the column's width (at least its label's width,
    and under its label): SHADES[round(w * 9)] for a weight w in [0, 1], the same scale for every
    cell. Every line is at most `width` characters; columns that do not fit are left out and a last
    line says how many.
    """
    rows, cols = [str(t) for t in tgt_tokens], [str(s) for s in src_tokens]
    label = max(len(r) for r in rows)
    cell = max(len(c) for c in cols) + 1
    shown = min(len(cols), max(1, (width - label - 1) // cell))
    w = weights[: len(rows), :shown].detach().to("cpu", torch.float64)
    lines = [" " * (label + 1) + "".join(c.rjust(cell) for c in cols[:shown])]
    for r, row in zip(rows, w):
        shades = "".join(SHADES[round(float(x) * (len(SHADES) - 1))] * cell for x in row)
        lines.append(r.rjust(label) + " " + shades)
    if shown < len(cols):
        lines.append(f"({len(cols) - shown} more columns not shown)"[:width])
    return "\n".join(lines)


def alignment_score(weights, src_len, tgt_len):
    """Reversal's alignment: the mean weight on the anti-diagonal, over the real output positions.

    Output i of a source of length n is source token n - 1 - i, so row i should put its weight on
    column n - 1 - i. Scored rows: i < n (the EOS row, i = n, and the padded rows i >= tgt_len have
    no source partner); padded columns never count. Returns a float in [0, 1]: the mean over ALL
    scored rows of the batch (a longer sequence has more rows).
    """
    B, T, S = weights.shape
    i = torch.arange(T, device=weights.device)
    n = src_len.to(weights.device)[:, None]
    scored = (i < n) & (i < tgt_len.to(weights.device)[:, None])                 # (B, T)
    cols = (n - 1 - i).clamp(min=0)                                             # (B, T)
    on_diag = weights.gather(2, cols.unsqueeze(-1)).squeeze(-1)                 # (B, T)
    return (on_diag * scored).sum().item() / scored.sum().item()
