"""GloVe from scratch: co-occurrence counts, the weighting function, the loss, a model; a GloVe file loader.

cooccurrence() counts, for every pair of words at most `window` apart in a sentence, 1/distance
(both directions: X is symmetric). glove_weight() is f(x) = min(1, (x/x_max)^alpha). glove_loss()
is the paper's weighted least squares over the NONZERO counts:

    J = sum over X_ij > 0 of  f(X_ij) * (w_i · c_j + b_i + b~_j - log X_ij)^2

GloVe is the model holding W, C, b_w, b_c; its vectors() are W + C. read_glove() and
glove_embedding() load a GloVe text file ("word v1 v2 ... vd" per line, no header) into an
nn.Embedding.

Run `dltutor check glove-fasttext`.
"""

import torch
from torch import nn


def cooccurrence(sentences, vocab_size, window=5):
    """The (vocab_size, vocab_size) float64 co-occurrence matrix of `sentences` (lists of word ids).

    For two positions p < q of one sentence with q - p <= window, add 1/(q - p) to
    X[w_p, w_q] AND to X[w_q, w_p]. Pairs never cross a sentence boundary.
    """
    X = torch.zeros(vocab_size, vocab_size, dtype=torch.float64)
    for sentence in sentences:
        for p, word in enumerate(sentence):
            for q in range(p + 1, min(p + window + 1, len(sentence))):
                X[word, sentence[q]] += 1.0 / (q - p)
                X[sentence[q], word] += 1.0 / (q - p)
    return X


def glove_weight(x, x_max=100.0, alpha=0.75):
    """f(x) = (x/x_max)^alpha below x_max, 1 from x_max on; a tensor like x."""
    return torch.clamp(x / x_max, max=1.0) ** alpha


def glove_loss(W, C, b_w, b_c, X, x_max=100.0, alpha=0.75):
    """The GloVe loss: sum over X_ij > 0 of f(X_ij) (w_i·c_j + b_w[i] + b_c[j] − log X_ij)²."""
    i, j = torch.nonzero(X > 0, as_tuple=True)
    x = X[i, j]
    diff = (W[i] * C[j]).sum(dim=1) + b_w[i] + b_c[j] - torch.log(x)
    return (glove_weight(x, x_max, alpha) * diff**2).sum()


class GloVe(nn.Module):
    """Word vectors W, context vectors C (vocab_size, dim) and their biases b_w, b_c (vocab_size,)."""

    def __init__(self, vocab_size, dim, x_max=100.0, alpha=0.75):
        super().__init__()
        self.x_max, self.alpha = x_max, alpha
        bound = 0.5 / dim
        self.W = nn.Parameter(torch.empty(vocab_size, dim).uniform_(-bound, bound))
        self.C = nn.Parameter(torch.empty(vocab_size, dim).uniform_(-bound, bound))
        self.b_w = nn.Parameter(torch.zeros(vocab_size))
        self.b_c = nn.Parameter(torch.zeros(vocab_size))

    def forward(self, X):
        return glove_loss(self.W, self.C, self.b_w, self.b_c, X, self.x_max, self.alpha)

    def vectors(self):
        return (self.W + self.C).detach()


def read_glove(path):
    """The words (list of str) and vectors (float32 tensor (N, d)) of a GloVe text file."""
    words, rows = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split(" ")
            if len(parts) < 2:
                continue
            words.append(parts[0])
            rows.append([float(v) for v in parts[1:]])
    return words, torch.tensor(rows, dtype=torch.float32)


def glove_embedding(path, vocab, freeze=True):
    """An nn.Embedding whose row k is the file's vector for vocab[k] (zeros for a word not in it)."""
    words, vectors = read_glove(path)
    row_of = {word: k for k, word in enumerate(words)}
    weight = torch.zeros(len(vocab), vectors.shape[1])
    for k, word in enumerate(vocab):
        if word in row_of:
            weight[k] = vectors[row_of[word]]
    return nn.Embedding.from_pretrained(weight, freeze=freeze)
