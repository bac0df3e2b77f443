"""Final project: sentiment of the HARD synthetic reviews with a GRU (one reference solution).

The check calls build_model(spec), then train(model, data, budget_s), then predict(model, inputs)
on a hidden test split, and report() for the write-up. See the lesson for the contract.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

TASK = "reviews"

EPOCHS = 4          # fixed: the same amount of training on every run (about 4 s on one CPU thread)
BATCH = 64
LR = 1e-2
PAD, UNK = 0, 1


class ReviewClassifier(nn.Module):
    """Token ids -> Embedding -> packed GRU -> dropout -> Linear on the last hidden state."""

    def __init__(self, vocab: list[str], tokenize, num_classes: int, emb: int = 32, hidden: int = 64):
        super().__init__()
        self.index = {word: i + 2 for i, word in enumerate(vocab)}   # 0 = PAD, 1 = <unk>
        self.tokenize = tokenize
        self.embedding = nn.Embedding(len(vocab) + 2, emb, padding_idx=PAD)
        self.gru = nn.GRU(emb, hidden, batch_first=True)
        self.dropout = nn.Dropout(0.1)
        self.out = nn.Linear(hidden, num_classes)

    def encode(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(ids (n, longest) padded with PAD, lengths (n,)) on the CPU."""
        rows = [[self.index.get(t, UNK) for t in self.tokenize(text)] or [UNK] for text in texts]
        lengths = torch.tensor([len(r) for r in rows])
        ids = torch.full((len(rows), int(lengths.max())), PAD, dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row)
        return ids, lengths

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        packed = pack_padded_sequence(self.embedding(ids), lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, h_n = self.gru(packed)                  # h_n: the state after each review's last real token
        return self.out(self.dropout(h_n[-1]))


def build_model(spec: dict) -> nn.Module:
    torch.manual_seed(spec["seed"])           # the initial weights depend on spec["seed"] only
    model = ReviewClassifier(spec["vocab"], spec["tokenize"], spec["num_classes"])
    model.device = spec["device"]
    return model.to(spec["device"])


def train(model: nn.Module, data, budget_s: float) -> None:
    ids, lengths = model.encode(data.inputs)
    ids, labels = ids.to(model.device), data.labels.to(model.device)
    order = torch.Generator().manual_seed(0)   # the shuffling is seeded too
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    model.train()
    for epoch in range(EPOCHS):
        for batch in torch.randperm(len(labels), generator=order).split(BATCH):
            loss = F.cross_entropy(model(ids[batch], lengths[batch]), labels[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()


def predict(model: nn.Module, inputs: list[str]) -> torch.Tensor:
    model.eval()
    ids, lengths = model.encode(inputs)
    with torch.no_grad():
        return model(ids.to(model.device), lengths)


REPORT = """\
# Final project: HARD synthetic reviews

## Task
Binary sentiment of the HARD synthetic reviews (negation 0.4, "but" 0.35, up to five clauses):
1,200 training reviews, graded on 1,000 hidden ones. The label is the polarity of the clause
after the last "but", with "not" flipping an adjective, so word order matters.

## Model
Embedding(32) over the training words seen at least twice (others are <unk>), a GRU(64) run
over the packed sequence, dropout 0.1 and a linear layer on the last hidden state. Adam,
lr 1e-2, batch 64, 4 epochs, cross-entropy. Seeded from spec["seed"] (weights) and a fixed
generator (shuffling), so two runs agree.

## Results
Hidden-split accuracy 0.999-1.000 over seeds 0-7 (target 0.90), against 0.53-0.57 for a
bag of words. train() takes about 4 s of the 25 s budget on one CPU thread.

## What I tried
A bag of words first: 0.55, as expected, because it cannot tell which adjective "not"
belongs to. Two epochs gave 0.67-0.87 depending on the seed, three 0.92-1.00 (two seeds of
eight stuck near 0.92); four are reliable. Batch 32 was no better and slower.

## Limitations
The reviews come from a small grammar (15 + 15 adjectives, 16 nouns), so 1.000 says the
model learnt that grammar, not that it would read real reviews. One epoch time is measured on
this CPU only; a slower machine may need fewer epochs to fit the budget.
"""


def report() -> str:
    return REPORT
