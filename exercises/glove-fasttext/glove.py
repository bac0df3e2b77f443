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
    # TODO: a float64 matrix of zeros; for each sentence, each position p and each partner q
    # TODO: add 1/(q - p) in both directions
    raise NotImplementedError


def glove_weight(x, x_max=100.0, alpha=0.75):
    """f(x) = (x/x_max)^alpha below x_max, 1 from x_max on; a tensor like x."""
    # TODO: cap x/x_max at 1, raise to alpha
    raise NotImplementedError


def glove_loss(W, C, b_w, b_c, X, x_max=100.0, alpha=0.75):
    """The GloVe loss: sum over X_ij > 0 of f(X_ij) (w_i·c_j + b_w[i] + b_c[j] − log X_ij)².

    W, C (V, d); b_w, b_c (V,); X (V, V): row i is the word (W, b_w), column j the context (C, b_c).
    Returns a scalar tensor that gradients flow through.
    """
    # TODO: the indices (i, j) of the nonzero counts, and the counts x there
    # TODO: the model's guess w_i·c_j + b_w[i] + b_c[j] minus log x, squared, weighted by f(x), summed
    raise NotImplementedError


class GloVe(nn.Module):
    """Word vectors W, context vectors C (vocab_size, dim) and their biases b_w, b_c (vocab_size,).

    All four are nn.Parameter: W and C uniform in ±0.5/dim (as GloVe's C code), b_w and b_c zeros.
    forward(X) returns glove_loss on them; vectors() returns W + C (detached), GloVe's word vectors.
    """

    def __init__(self, vocab_size, dim, x_max=100.0, alpha=0.75):
        super().__init__()
        # TODO: self.x_max, self.alpha, and the four parameters
        raise NotImplementedError

    def forward(self, X):
        # TODO: the loss of this model's parameters on X
        raise NotImplementedError

    def vectors(self):
        # TODO: W + C
        raise NotImplementedError


def read_glove(path):
    """The words (list of str, in file order) and vectors (float32 tensor (N, d)) of a GloVe text file.

    Each line is: word v1 v2 ... vd, separated by single spaces. There is no header line.
    """
    # TODO: open with encoding="utf-8"; split each line; the word, then its numbers
    raise NotImplementedError


def glove_embedding(path, vocab, freeze=True):
    """An nn.Embedding (len(vocab), d): row k is the file's vector for vocab[k], zeros if it has none.

    Frozen (weight.requires_grad False) when freeze is True: use nn.Embedding.from_pretrained.
    """
    # TODO: read the file; a zero matrix; copy the rows of the words the file has; from_pretrained
    raise NotImplementedError
