"""fastText's subwords: character n-grams with boundary symbols, FNV-1a hashing, vectors for any word.

char_ngrams("where", 3, 3) == ["<wh", "whe", "her", "ere", "re>"]: the word is wrapped in "<" and
">" first, so a prefix and a suffix are n-grams of their own. fnv1a() is the 32-bit FNV-1a hash of
a string's UTF-8 bytes; an n-gram's row in the n-gram table is fnv1a(g) % buckets. A word's vector
is the MEAN of its own row (when it is in the vocabulary) and its n-grams' rows; a word never seen
has n-grams all the same, so it still gets a vector.

Run `dltutor check glove-fasttext`.
"""

import torch
from torch import nn

FNV_OFFSET = 2166136261
FNV_PRIME = 16777619


def char_ngrams(word, n_min=3, n_max=6):
    """Every character n-gram of "<" + word + ">" with n_min <= n <= n_max (repeats kept; n_min >= 2).

    Like fastText, the whole wrapped word is one of them when it is at most n_max long ("<cat>").
    Any order is fine.
    """
    # TODO: wrap the word; every start position for every length n_min..n_max
    raise NotImplementedError


def fnv1a(text):
    """The 32-bit FNV-1a hash of text's UTF-8 bytes: h = offset; per byte h = (h XOR byte) * prime mod 2^32."""
    # TODO: start from FNV_OFFSET; for each byte of text.encode("utf-8"): XOR, multiply, keep 32 bits
    raise NotImplementedError


def ngram_buckets(word, buckets, n_min=3, n_max=6):
    """The rows of word's n-grams in a table of `buckets` rows: fnv1a(g) % buckets for each n-gram g."""
    # TODO: one bucket per n-gram of char_ngrams(word, n_min, n_max)
    raise NotImplementedError


class FastText(nn.Module):
    """Word vectors built from subwords.

    self.words = nn.Embedding(len(vocab), dim): one row per vocabulary word.
    self.ngrams = nn.Embedding(buckets, dim): the hashed n-gram rows.
    vector(word) is the mean of the word's own row (if it is in vocab) and its n-grams' rows, a
    tensor (dim,); a word not in vocab gets the mean of its n-grams' rows.
    forward(ids) returns vector(vocab[i]) for each id of the 1-D tensor ids: (len(ids), dim),
    with gradients reaching both tables.
    """

    def __init__(self, vocab, dim, buckets=2**16, n_min=3, n_max=6):
        super().__init__()
        # TODO: keep vocab, a word -> id dict, buckets, n_min, n_max; the two nn.Embedding tables
        raise NotImplementedError

    def vector(self, word):
        # TODO: the n-gram rows (on the tables' device), the word's own row when known, their mean
        raise NotImplementedError

    def forward(self, ids):
        # TODO: the vectors of vocab[i] for i in ids, stacked
        raise NotImplementedError
