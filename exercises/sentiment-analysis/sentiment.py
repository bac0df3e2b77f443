"""A sentiment classifier end to end: tokens, a vocabulary, padded batches, an LSTM, training.

tokenize() turns a review into lower-case words. build_vocab() maps the words of the TRAINING
reviews that occur at least min_freq times to ids, after two special tokens: <pad> = 0 and
<unk> = 1. encode() turns tokens into ids (unknown words -> 1). collate() pads a list of
(ids, label) pairs into one batch. SentimentLSTM reads a padded batch with its lengths:
nn.Embedding(padding_idx=0) -> a packed nn.LSTM -> nn.Linear on the last hidden state.
train_epoch() and evaluate() train and score it; make_loaders() puts the pipeline together.

The data: tutor.checking.reviews.SyntheticReviews, short reviews in which "not" flips a clause
and the part after the last "but" decides ("The plot is not bad, but the acting is dull." is
negative). A bag of words reaches about 0.65 on them; a model that reads in order, far more.

You may change the model (a GRU instead of the LSTM, other sizes, the output at lengths - 1 or a
mean over the valid steps instead of h_n) as long as the padding never changes a prediction and
forward returns raw logits (B, 2).

Run `dltutor check sentiment-analysis`.
"""

import re
from collections import Counter

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence
from torch.utils.data import DataLoader

PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1


def tokenize(text):
    """Lower-case words: runs of letters, digits and apostrophes; everything else separates.

    Example: tokenize("The plot isn't GOOD, but...") = ['the', 'plot', "isn't", 'good', 'but'].
    """
    # TODO: lower-case the text, then take the runs of [a-z0-9'] (re.findall)
    raise NotImplementedError


def build_vocab(token_lists, min_freq=2):
    """A dict word -> id: <pad> -> 0, <unk> -> 1, then every word that occurs at least min_freq
    times in token_lists (a list of token lists), with the ids 2, 3, ... (in any order).

    Example: build_vocab([["good", "plot"], ["good"]], min_freq=2) = {"<pad>": 0, "<unk>": 1, "good": 2}.
    """
    # TODO: count every token (collections.Counter)
    # TODO: start from {PAD: PAD_ID, UNK: UNK_ID}; give each word seen >= min_freq times the next id
    raise NotImplementedError


def encode(tokens, vocab):
    """The ids of `tokens` (a list of str): vocab[word], or UNK_ID for a word not in the vocabulary."""
    # TODO: one id per token, unknown words included
    raise NotImplementedError


def collate(batch):
    """Pad a list of (ids, label) pairs into (ids (B, T), lengths (B,), labels (B,)), all int64.

    ids is a list of ints (or a 1-D int64 tensor); T is the longest length in the batch; the
    padding is PAD_ID and goes at the END of each row (batch first).
    Example: collate([([5, 3], 1), ([4], 0)]) = ([[5, 3], [4, 0]], [2, 1], [1, 0]).
    """
    # TODO: the lengths; a (B, T) int64 tensor full of PAD_ID; copy each review into the start of its row
    # TODO: the labels as an int64 tensor (F.cross_entropy wants class indices, long)
    raise NotImplementedError


class SentimentLSTM(nn.Module):
    """nn.Embedding(vocab_size, embed_dim, padding_idx=PAD_ID) -> nn.LSTM(embed_dim, hidden_size,
    batch_first=True) over the PACKED batch -> nn.Linear(hidden_size, num_classes) on the last
    layer's final hidden state h_n[-1].

    forward(ids (B, T) int64, lengths (B,) int64) -> logits (B, num_classes): raw scores, no softmax.
    The lengths may come on the CPU or on ids' device; pack_padded_sequence wants them on the CPU.
    """

    def __init__(self, vocab_size, embed_dim=32, hidden_size=64, num_classes=2):
        super().__init__()
        # TODO: self.embedding, self.lstm, self.head
        raise NotImplementedError

    def forward(self, ids, lengths):
        # TODO: embed; pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        # TODO: run the LSTM on the packed batch; the head on h_n[-1]
        raise NotImplementedError


def train_epoch(model, loader, optimizer):
    """One pass over `loader` (batches (ids, lengths, labels)) in training mode. For each batch:
    move it to the model's device, logits = model(ids, lengths), F.cross_entropy(logits, labels),
    zero the gradients, backward, step. Returns the mean of the batch losses, a float."""
    # TODO: model.train(); device = next(model.parameters()).device
    # TODO: the loop; keep loss.item() of each batch
    raise NotImplementedError


def evaluate(model, loader):
    """The accuracy (a float) of `model` over every review in `loader`, in eval mode, without gradients."""
    # TODO: model.eval(); under torch.no_grad(), count the argmax predictions equal to the labels
    # TODO: return correct / (the number of reviews)
    raise NotImplementedError


def make_loaders(train_texts, train_labels, test_texts, test_labels, batch_size=32, min_freq=2):
    """(vocab, train_loader, test_loader): the vocabulary from the TRAINING texts only; each loader
    yields collate()d batches of (encode(tokenize(text), vocab), label); only the training loader
    shuffles, and neither drops the last, smaller batch."""
    # TODO: tokenize every text; build_vocab from the TRAINING tokens only
    # TODO: a list of (ids, label) pairs for each split
    # TODO: DataLoader(pairs, batch_size=batch_size, shuffle=..., collate_fn=collate)
    raise NotImplementedError
