"""Trained reversal models for the seq2seq-limits lesson: GRU seq2seq without attention at three
hidden sizes, and one with attention, shipped in weights/seq2seq_reversal_v1.pt (SHA-256 checked).

    from tutor.checking.seqmodels import load_zoo
    zoo = load_zoo("cpu")          # {"gru16": GRUSeq2Seq, "gru32": ..., "gru64": ..., "attn64": AttnSeq2Seq}
    model = zoo["gru64"]           # .encoder(src, src_len) -> state; .decoder(inputs, state) -> (logits, state)
    logits = model(b.src, b.src_len, b.tgt)   # teacher-forced (B, T, VOCAB)

Every model has the interface of the encoder-decoder lesson: the encoder's return value is the
decoder's initial state, and the decoder returns its next state, so one greedy loop decodes them
all (the attention model's state is a tuple (h, encoder outputs, source mask); treat it as opaque).
The recipe (`train_model`): reversal of MIN_LEN..MAX_LEN symbols (vocab 20), Adam lr 1e-2,
gradient norm clipped at 1, STEPS batches of 128 fresh sequences, one CPU thread, seed 0.
When the file is missing or damaged, `load_zoo()` trains the four once (minutes) and caches them
like pretrained.py does.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from tutor.checking import seqtasks as st
from tutor.checking.pretrained import WEIGHTS_DIR, cache_dir, file_sha256

VOCAB, EMB = 20, 32
MIN_LEN, MAX_LEN = 2, 16
STEPS, BATCH, LR = 800, 128, 1e-2
ZOO = {"gru16": ("gru", 16), "gru32": ("gru", 32), "gru64": ("gru", 64), "attn64": ("attn", 64)}
ZOO_FILE = WEIGHTS_DIR / "seq2seq_reversal_v1.pt"
ZOO_SHA256 = "d53640a8e821128bd501375e9e326f251bd9e2a9483e9f47483be783d63e97a5"


class Encoder(nn.Module):
    """Embedding + GRU; returns h_n (1, B, H), read at each row's length (packed)."""

    def __init__(self, vocab_size: int, emb_dim: int, hidden_size: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_dim, padding_idx=st.PAD)
        self.gru = nn.GRU(emb_dim, hidden_size, batch_first=True)

    def run(self, src, src_len):
        packed = pack_padded_sequence(self.embedding(src), src_len.cpu(), batch_first=True, enforce_sorted=False)
        out, h_n = self.gru(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])
        return out, h_n

    def forward(self, src, src_len):
        return self.run(src, src_len)[1]


class Decoder(nn.Module):
    """Embedding + GRU + Linear: (inputs (B, T), h (1, B, H)) -> (logits (B, T, V), h_n)."""

    def __init__(self, vocab_size: int, emb_dim: int, hidden_size: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_dim, padding_idx=st.PAD)
        self.gru = nn.GRU(emb_dim, hidden_size, batch_first=True)
        self.out = nn.Linear(hidden_size, vocab_size)

    def forward(self, inputs, h):
        output, h_n = self.gru(self.embedding(inputs), h)
        return self.out(output), h_n


class GRUSeq2Seq(nn.Module):
    """The encoder-decoder lesson's model: the decoder knows the source only through h_n (1, B, H)."""

    def __init__(self, vocab_size: int = VOCAB, emb_dim: int = EMB, hidden_size: int = 64) -> None:
        super().__init__()
        self.encoder = Encoder(vocab_size, emb_dim, hidden_size)
        self.decoder = Decoder(vocab_size, emb_dim, hidden_size)

    def forward(self, src, src_len, tgt):
        logits, _ = self.decoder(st.shift_right(tgt), self.encoder(src, src_len))
        return logits


class AttnEncoder(Encoder):
    """Returns the state (h_n, every encoder output (B, S, H), source mask (B, S) True = real)."""

    def forward(self, src, src_len):
        out, h_n = self.run(src, src_len)
        return h_n, out, src != st.PAD


class AttnDecoder(nn.Module):
    """GRU decoder that reads the encoder outputs at every step (Luong dot attention)."""

    def __init__(self, vocab_size: int, emb_dim: int, hidden_size: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_dim, padding_idx=st.PAD)
        self.gru = nn.GRU(emb_dim, hidden_size, batch_first=True)
        self.combine = nn.Linear(2 * hidden_size, hidden_size)
        self.out = nn.Linear(hidden_size, vocab_size)

    def forward(self, inputs, state):
        h, memory, mask = state
        output, h_n = self.gru(self.embedding(inputs), h)                  # (B, T, H)
        scores = output @ memory.transpose(1, 2)                           # (B, T, S)
        weights = scores.masked_fill(~mask[:, None, :], float("-inf")).softmax(-1)
        context = weights @ memory                                         # (B, T, H)
        mixed = torch.tanh(self.combine(torch.cat([output, context], dim=-1)))
        return self.out(mixed), (h_n, memory, mask)


class AttnSeq2Seq(GRUSeq2Seq):
    """The same GRUs, and attention over the encoder outputs: no single vector has to hold the source."""

    def __init__(self, vocab_size: int = VOCAB, emb_dim: int = EMB, hidden_size: int = 64) -> None:
        nn.Module.__init__(self)
        self.encoder = AttnEncoder(vocab_size, emb_dim, hidden_size)
        self.decoder = AttnDecoder(vocab_size, emb_dim, hidden_size)


def build(name: str) -> nn.Module:
    kind, hidden = ZOO[name]
    return (AttnSeq2Seq if kind == "attn" else GRUSeq2Seq)(VOCAB, EMB, hidden)


def train_model(name: str, seed: int = 0, steps: int = STEPS) -> nn.Module:
    """Train one zoo model on reversal (deterministic for a seed on one CPU thread); eval mode."""
    torch.manual_seed(seed)
    model = build(name)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(steps):
        b = st.reversal(BATCH, MIN_LEN, MAX_LEN, VOCAB, seed=gen)
        logits = model(b.src, b.src_len, b.tgt)
        loss = F.cross_entropy(logits.flatten(0, 1), b.tgt.flatten(), ignore_index=st.PAD)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    return model.eval()


def zoo_state(models: dict) -> dict:
    """One flat state dict: "gru64.encoder.gru.weight_ih_l0" -> tensor (fp32, tensors only)."""
    return {f"{name}.{k}": v.detach().clone().contiguous() for name, m in models.items()
            for k, v in m.state_dict().items()}


def save_zoo(models: dict, path: Path) -> None:
    """Write zoo_state(models) through a byte buffer (the bytes do not depend on the path)."""
    buffer = io.BytesIO()
    torch.save(zoo_state(models), buffer)
    tmp = Path(path).with_name(Path(path).name + ".tmp")
    tmp.write_bytes(buffer.getvalue())
    os.replace(tmp, path)


def zoo_path() -> Path:
    """The shipped file when its SHA-256 matches; else a cached copy, trained here once."""
    if ZOO_FILE.is_file() and file_sha256(ZOO_FILE) == ZOO_SHA256:
        return ZOO_FILE
    for folder in (cache_dir(), Path(tempfile.gettempdir()) / "dltutor-cache"):
        cached = folder / ZOO_FILE.name
        if cached.is_file():
            return cached
        try:
            folder.mkdir(parents=True, exist_ok=True)
            save_zoo({name: train_model(name) for name in ZOO}, cached)
            return cached
        except OSError:
            continue
    raise RuntimeError("the seq2seq reversal models are missing and no cache folder is writable")


def load_zoo(device="cpu") -> dict:
    """{name: trained model in eval mode on `device`} for every name in ZOO."""
    state = torch.load(zoo_path(), map_location="cpu", weights_only=True)
    zoo = {}
    for name in ZOO:
        model = build(name)
        prefix = name + "."
        model.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})
        zoo[name] = model.to(device).eval()
    return zoo
