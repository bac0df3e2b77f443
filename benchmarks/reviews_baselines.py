"""Measure how hard SyntheticReviews is: bag of words vs a packed LSTM (not a test).

    python benchmarks/reviews_baselines.py [--seeds 0 1 2 3 4] [--train 1200] [--test 600] [--epochs 2] [--hard]

Prints the test accuracy per model and seed and the CPU seconds. The numbers in
tutor/checking/reviews.py's docstring come from this script (the sentiment-analysis check uses
the same models and settings: 1,200 / 600 reviews, batch 32, Adam lr 1e-2, 2 epochs).
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from tutor.checking.reviews import HARD, SyntheticReviews, tokenize


def vocabulary(texts, min_freq=2):
    counts = Counter(t for text in texts for t in tokenize(text))
    words = sorted(w for w, c in counts.items() if c >= min_freq)
    return {"<pad>": 0, "<unk>": 1, **{w: i + 2 for i, w in enumerate(words)}}


def padded(texts, vocab):
    seqs = [[vocab.get(t, 1) for t in tokenize(text)] for text in texts]
    lengths = torch.tensor([len(s) for s in seqs])
    ids = torch.zeros(len(seqs), int(lengths.max()), dtype=torch.int64)
    for row, s in enumerate(seqs):
        ids[row, :len(s)] = torch.tensor(s)
    return ids, lengths


class LSTMClassifier(nn.Module):
    def __init__(self, vocab_size, embed_dim=32, hidden_size=64):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.lstm = nn.LSTM(embed_dim, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, 2)

    def forward(self, ids, lengths):
        packed = pack_padded_sequence(self.embedding(ids), lengths, batch_first=True, enforce_sorted=False)
        return self.head(self.lstm(packed)[1][0][-1])


def bag_of_words(ids, y, ids_t, y_t, vocab_size, steps=300):
    """Logistic regression on word counts, full batch, Adam lr 0.05 (as in the check)."""
    def counts(x):
        c = torch.zeros(len(x), vocab_size).scatter_add_(1, x, torch.ones_like(x, dtype=torch.float))
        c[:, 0] = 0
        return c
    x, xt = counts(ids), counts(ids_t)
    torch.manual_seed(0)
    model = nn.Linear(vocab_size, 2)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    with torch.no_grad():
        return (model(xt).argmax(1) == y_t).double().mean().item()


def lstm(ids, lengths, y, ids_t, lengths_t, y_t, vocab_size, epochs, seed):
    torch.manual_seed(seed)
    model = LSTMClassifier(vocab_size)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(epochs):
        order = torch.randperm(len(ids))
        for i in range(0, len(ids), 32):
            idx = order[i:i + 32]
            n = int(lengths[idx].max())
            opt.zero_grad()
            F.cross_entropy(model(ids[idx, :n], lengths[idx]), y[idx]).backward()
            opt.step()
    with torch.no_grad():
        return (model.eval()(ids_t, lengths_t).argmax(1) == y_t).double().mean().item()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--train", type=int, default=1200)
    parser.add_argument("--test", type=int, default=600)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--hard", action="store_true", help="the HARD setting (negation 0.4, but 0.35, 5 clauses)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    settings = HARD if args.hard else {}
    for seed in args.seeds:
        train = SyntheticReviews(args.train, seed=seed, train=True, **settings)
        test = SyntheticReviews(args.test, seed=seed, train=False, **settings)
        vocab = vocabulary(train.texts)
        (ids, lengths), (ids_t, lengths_t) = padded(train.texts, vocab), padded(test.texts, vocab)
        y, y_t = train.targets, test.targets
        start = time.process_time()
        bow = bag_of_words(ids, y, ids_t, y_t, len(vocab))
        middle = time.process_time()
        acc = lstm(ids, lengths, y, ids_t, lengths_t, y_t, len(vocab), args.epochs, seed)
        end = time.process_time()
        print(f"seed {seed}  vocabulary {len(vocab)}  bag of words {bow:.3f} ({middle - start:.2f} s)  "
              f"LSTM {acc:.3f} ({end - middle:.2f} s)", flush=True)


if __name__ == "__main__":
    main()
