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
    T = tgt_in.shape[1]
    tgt_mask = torch.ones(T, T, dtype=torch.bool, device=tgt_in.device).triu(1)
    src_pad = src == pad
    return src_pad, tgt_mask, tgt_in == pad, src_pad


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
        self.src_embed = nn.Embedding(vocab, d_model)
        self.tgt_embed = nn.Embedding(vocab, d_model)
        self.register_buffer("pe", sinusoidal_table(max_len, d_model), persistent=False)
        self.dropout = nn.Dropout(dropout)
        self.encoder_layers = nn.ModuleList([
            nn.TransformerEncoderLayer(d_model, nhead, d_ff, dropout, batch_first=True)
            for _ in range(num_encoder_layers)])
        self.decoder_layers = nn.ModuleList([
            nn.TransformerDecoderLayer(d_model, nhead, d_ff, dropout, batch_first=True)
            for _ in range(num_decoder_layers)])
        self.encoder_norm = nn.LayerNorm(d_model)
        self.decoder_norm = nn.LayerNorm(d_model)
        self.out = nn.Linear(d_model, vocab)
        for table in (self.src_embed, self.tgt_embed):
            nn.init.normal_(table.weight, std=d_model ** -0.5)  # × √d_model then gives unit variance

    def embed(self, tokens, table):
        """(B, L) ids -> (B, L, d_model): table(tokens) · √d_model + pe[:L], then dropout."""
        x = table(tokens) * math.sqrt(self.d_model)
        return self.dropout(x + self.pe[: tokens.shape[1]])

    def encode(self, src, src_key_padding_mask=None):
        """src (B, S) -> memory (B, S, d_model)."""
        x = self.embed(src, self.src_embed)
        for layer in self.encoder_layers:
            x = layer(x, src_key_padding_mask=src_key_padding_mask)
        return self.encoder_norm(x)

    def decode(self, tgt_in, memory, tgt_mask=None, tgt_key_padding_mask=None, memory_key_padding_mask=None):
        """tgt_in (B, T), memory (B, S, d_model) -> the decoder's output (B, T, d_model), before `out`."""
        x = self.embed(tgt_in, self.tgt_embed)
        for layer in self.decoder_layers:
            x = layer(x, memory, tgt_mask=tgt_mask, tgt_key_padding_mask=tgt_key_padding_mask,
                      memory_key_padding_mask=memory_key_padding_mask)
        return self.decoder_norm(x)

    def forward(self, src, tgt_in):
        """src (B, S), tgt_in (B, T) -> logits (B, T, vocab)."""
        src_pad, tgt_mask, tgt_pad, memory_pad = make_masks(src, tgt_in)
        memory = self.encode(src, src_pad)
        return self.out(self.decode(tgt_in, memory, tgt_mask, tgt_pad, memory_pad))


def transformer_loss(model, src, tgt):
    """Teacher forcing: the model reads [SOS] + tgt[:, :-1] and is scored on tgt by the mean
    cross-entropy over its non-PAD tokens (EOS included)."""
    tgt_in = torch.cat([torch.full_like(tgt[:, :1], SOS), tgt[:, :-1]], dim=1)
    logits = model(src, tgt_in)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1), ignore_index=PAD)


def noam_lr(step, d_model, warmup):
    """d_model^-0.5 · min(step^-0.5, step · warmup^-1.5) for step >= 1 (the step-th optimizer step);
    0.0 at step 0, the formula's limit (no ZeroDivisionError)."""
    if step == 0:
        return 0.0
    return d_model ** -0.5 * min(step ** -0.5, step * warmup ** -1.5)


def noam_schedule(optimizer, d_model, warmup):
    """A LambdaLR under which the k-th optimizer.step() (k = 1, 2, ...) uses base_lr · noam_lr(k).
    LambdaLR calls the lambda with 0 when it is built, and with i after its i-th scheduler.step()."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda i: noam_lr(i + 1, d_model, warmup))


@torch.no_grad()
def greedy_decode(model, src, max_len):
    """(B, L) token ids, L <= max_len: from SOS, append the argmax of the last position each step;
    each row keeps its tokens up to and including its EOS, then PAD; stop when every row is done."""
    src_pad = src == PAD
    memory = model.encode(src, src_pad)
    B = src.shape[0]
    tokens = torch.full((B, 1), SOS, dtype=torch.long, device=src.device)
    done = torch.zeros(B, dtype=torch.bool, device=src.device)
    out = []
    for _ in range(max_len):
        _, tgt_mask, _, _ = make_masks(src, tokens)
        h = model.decode(tokens, memory, tgt_mask, None, src_pad)
        nxt = model.out(h[:, -1]).argmax(-1)
        out.append(nxt.masked_fill(done, PAD))
        done = done | (nxt == EOS)
        tokens = torch.cat([tokens, nxt[:, None]], dim=1)
        if done.all():
            break
    return torch.stack(out, dim=1)
