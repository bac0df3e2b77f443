"""Skip-gram with negative sampling (word2vec), from scratch; nearest neighbours and analogies.

Words are indices 0..V-1 and a sentence is a list of indices. The pipeline:
    skipgram_pairs(sentences, window)   (center, context) pairs, a (P, 2) int64 tensor
    noise_distribution(counts)          P_n(w) = count(w)^0.75 / Σ count^0.75, where negatives come from
    sgns_loss(v, u_pos, u_neg)          −log σ(u_pos·v) − Σ_k log σ(−u_neg_k·v), mean over the batch
    sgns_gradients(v, u_pos, u_neg)     one example's gradients of that loss, by hand
    SkipGram(V, d)                      two tables: input (center) vectors and output (context) vectors
    train_sgns(...)                     pairs + sampled negatives + Adam; returns (model, losses)
    most_similar / analogy              cosine similarity, query words excluded

The check trains your train_sgns on a synthetic corpus with planted topics and king/queen-style word
pairs and scores the vectors with its own cosine evaluation. torch.sigmoid, F.logsigmoid,
F.binary_cross_entropy_with_logits, torch.multinomial and F.normalize are all fine.

Run `dltutor check word2vec`.
"""

import torch
import torch.nn.functional as F
from torch import nn


def skipgram_pairs(sentences, window):
    """Every (center, context) pair: context within `window` positions of center, same sentence.

    window=w means up to w words on EACH side. No pair crosses a sentence end, and no word is paired
    with its own position (an equal word at another position is a real context). Returns a
    torch.long tensor of shape (P, 2), rows (center, context), in any order.
    """
    # TODO: for each sentence, for each position i, for each j in [i - window, i + window] inside the sentence
    # TODO: skip j == i; collect (sentence[i], sentence[j]); torch.tensor(pairs, dtype=torch.long).reshape(-1, 2)
    raise NotImplementedError


def noise_distribution(counts, power=0.75):
    """The negative-sampling distribution: count^power / Σ count^power, a float tensor of shape (V,).

    counts is a tensor of word counts (integer or float), aligned with the vocabulary.
    """
    # TODO: convert to float, raise to the power, then divide by the sum (in that order)
    raise NotImplementedError


def sgns_loss(v, u_pos, u_neg):
    """The skip-gram negative-sampling loss, averaged over the batch: a scalar tensor.

    v (B, d) center (input) vectors, u_pos (B, d) their contexts' output vectors,
    u_neg (B, K, d) the output vectors of K negatives per pair.
    loss_b = −log σ(u_pos_b·v_b) − Σ_k log σ(−u_neg_bk·v_b)
    """
    # TODO: the positive scores (B,) and the negative scores (B, K); F.logsigmoid is stable
    raise NotImplementedError


def sgns_gradients(v, u_pos, u_neg):
    """By hand (no autograd): the gradients of ONE example's loss −log σ(u_pos·v) − Σ_k log σ(−u_k·v).

    v (d,), u_pos (d,), u_neg (K, d). Returns (grad_v (d,), grad_u_pos (d,), grad_u_neg (K, d)).
    Use d/ds[−log σ(s)] = σ(s) − 1 and d/ds[−log σ(−s)] = σ(s).
    """
    # TODO: s_pos = u_pos @ v, s_neg = u_neg @ v (K,); then the chain rule for each of the three
    raise NotImplementedError


class SkipGram(nn.Module):
    """Two tables of word vectors: self.input (centers) and self.output (contexts and negatives).

    Both nn.Embedding(vocab_size, dim). Initialise them small (for example normal, std 0.1):
    large random vectors start the loss far from (1 + K)·ln 2 and slow training down.
    forward(center (B,), context (B,), negatives (B, K)) -> sgns_loss of the looked-up vectors.
    """

    def __init__(self, vocab_size, dim):
        super().__init__()
        # TODO: self.input and self.output, two separate nn.Embedding(vocab_size, dim) tables
        raise NotImplementedError

    def forward(self, center, context, negatives):
        # TODO: the center from self.input, the context and the negatives from self.output
        raise NotImplementedError


def word_vectors(model):
    """The word vectors of a trained SkipGram: word2vec's convention, the input table, (V, d)."""
    # TODO: model.input.weight, detached
    raise NotImplementedError


def train_sgns(sentences, counts, dim=32, window=2, negatives=5, epochs=2, lr=1e-2, batch_size=1024,
               seed=0, device="cpu"):
    """Train a SkipGram on `sentences` (lists of indices); counts (V,) gives V and the noise.

    Make the pairs with skipgram_pairs; each epoch, shuffle them and go through them in batches of
    `batch_size`; for each batch draw `negatives` words per pair from noise_distribution(counts)
    (torch.multinomial with replacement) and take one Adam step (lr) on the model's loss. Seed
    torch with `seed`. Returns (model, losses): losses holds loss.item() of every step.
    """
    # TODO: pairs, noise, model on `device`, optimizer
    # TODO: for each epoch: a permutation; for each batch: negatives (B, K), loss, zero_grad, backward, step
    raise NotImplementedError


def most_similar(vectors, query, topn=5):
    """The `topn` words most similar to word `query` by COSINE similarity, the query itself excluded.

    vectors (V, d), one row per word. Returns (indices (topn,) torch.long, similarities (topn,)),
    most similar first.
    """
    # TODO: unit rows, their dot products with the query's unit row, exclude the query, topk
    raise NotImplementedError


def analogy(vectors, a, b, c):
    """a : b :: c : ?  The word (an int) whose vector is most cosine-similar to b − a + c.

    Normalise every row to unit length first, then target = unit[b] − unit[a] + unit[c]; a, b and c
    themselves are excluded from the answer.
    """
    # TODO: unit rows, the target, cosine scores (unit @ target ranks like the cosine), exclude a, b, c
    raise NotImplementedError
