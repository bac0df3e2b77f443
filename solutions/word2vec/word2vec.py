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
    pairs = []
    for sentence in sentences:
        for i, center in enumerate(sentence):
            for j in range(max(0, i - window), min(len(sentence), i + window + 1)):
                if j != i:
                    pairs.append((center, sentence[j]))
    return torch.tensor(pairs, dtype=torch.long).reshape(-1, 2)


def noise_distribution(counts, power=0.75):
    """The negative-sampling distribution: count^power / Σ count^power, a float tensor of shape (V,).

    counts is a tensor of word counts (integer or float), aligned with the vocabulary.
    """
    weights = torch.as_tensor(counts, dtype=torch.float64) ** power
    return weights / weights.sum()


def sgns_loss(v, u_pos, u_neg):
    """The skip-gram negative-sampling loss, averaged over the batch: a scalar tensor.

    v (B, d) center (input) vectors, u_pos (B, d) their contexts' output vectors,
    u_neg (B, K, d) the output vectors of K negatives per pair.
    loss_b = −log σ(u_pos_b·v_b) − Σ_k log σ(−u_neg_bk·v_b)
    """
    positive = F.logsigmoid((v * u_pos).sum(-1))
    negative = F.logsigmoid(-(u_neg @ v.unsqueeze(-1)).squeeze(-1)).sum(-1)
    return -(positive + negative).mean()


def sgns_gradients(v, u_pos, u_neg):
    """By hand (no autograd): the gradients of ONE example's loss −log σ(u_pos·v) − Σ_k log σ(−u_k·v).

    v (d,), u_pos (d,), u_neg (K, d). Returns (grad_v (d,), grad_u_pos (d,), grad_u_neg (K, d)).
    Use d/ds[−log σ(s)] = σ(s) − 1 and d/ds[−log σ(−s)] = σ(s).
    """
    s_pos = torch.sigmoid(u_pos @ v)
    s_neg = torch.sigmoid(u_neg @ v)
    grad_v = (s_pos - 1) * u_pos + s_neg @ u_neg
    grad_u_pos = (s_pos - 1) * v
    grad_u_neg = s_neg[:, None] * v[None, :]
    return grad_v, grad_u_pos, grad_u_neg


class SkipGram(nn.Module):
    """Two tables of word vectors: self.input (centers) and self.output (contexts and negatives).

    Both nn.Embedding(vocab_size, dim). Initialise them small (for example normal, std 0.1):
    large random vectors start the loss far from (1 + K)·ln 2 and slow training down.
    forward(center (B,), context (B,), negatives (B, K)) -> sgns_loss of the looked-up vectors.
    """

    def __init__(self, vocab_size, dim):
        super().__init__()
        self.input = nn.Embedding(vocab_size, dim)
        self.output = nn.Embedding(vocab_size, dim)
        nn.init.normal_(self.input.weight, std=0.1)
        nn.init.normal_(self.output.weight, std=0.1)

    def forward(self, center, context, negatives):
        return sgns_loss(self.input(center), self.output(context), self.output(negatives))


def word_vectors(model):
    """The word vectors of a trained SkipGram: word2vec's convention, the input table, (V, d)."""
    return model.input.weight.detach()


def train_sgns(sentences, counts, dim=32, window=2, negatives=5, epochs=2, lr=1e-2, batch_size=1024,
               seed=0, device="cpu"):
    """Train a SkipGram on `sentences` (lists of indices); counts (V,) gives V and the noise.

    Make the pairs with skipgram_pairs; each epoch, shuffle them and go through them in batches of
    `batch_size`; for each batch draw `negatives` words per pair from noise_distribution(counts)
    (torch.multinomial with replacement) and take one Adam step (lr) on the model's loss. Seed
    torch with `seed`. Returns (model, losses): losses holds loss.item() of every step.
    """
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    pairs = skipgram_pairs(sentences, window)
    noise = noise_distribution(counts)
    model = SkipGram(len(counts), dim).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        order = torch.randperm(len(pairs), generator=gen)
        for start in range(0, len(pairs), batch_size):
            batch = pairs[order[start:start + batch_size]]
            neg = torch.multinomial(noise, len(batch) * negatives, replacement=True, generator=gen)
            batch, neg = batch.to(device), neg.view(len(batch), negatives).to(device)
            loss = model(batch[:, 0], batch[:, 1], neg)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    return model, losses


def most_similar(vectors, query, topn=5):
    """The `topn` words most similar to word `query` by COSINE similarity, the query itself excluded.

    vectors (V, d), one row per word. Returns (indices (topn,) torch.long, similarities (topn,)),
    most similar first.
    """
    unit = vectors / vectors.norm(dim=1, keepdim=True)
    sims = unit @ unit[query]
    sims[query] = -float("inf")
    best = sims.topk(topn)
    return best.indices, best.values


def analogy(vectors, a, b, c):
    """a : b :: c : ?  The word (an int) whose vector is most cosine-similar to b − a + c.

    Normalise every row to unit length first, then target = unit[b] − unit[a] + unit[c]; a, b and c
    themselves are excluded from the answer.
    """
    unit = vectors / vectors.norm(dim=1, keepdim=True)
    target = unit[b] - unit[a] + unit[c]
    sims = unit @ target
    sims[[a, b, c]] = -float("inf")
    return int(sims.argmax())
