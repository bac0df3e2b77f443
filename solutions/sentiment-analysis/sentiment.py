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
    return re.findall(r"[a-z0-9']+", text.lower())


def build_vocab(token_lists, min_freq=2):
    """A dict word -> id: <pad> -> 0, <unk> -> 1, then every word that occurs at least min_freq
    times in token_lists (a list of token lists), with the ids 2, 3, ... (in any order).

    Example: build_vocab([["good", "plot"], ["good"]], min_freq=2) = {"<pad>": 0, "<unk>": 1, "good": 2}.
    """
    counts = Counter(token for tokens in token_lists for token in tokens)
    vocab = {PAD: PAD_ID, UNK: UNK_ID}
    for word, count in counts.most_common():
        if count >= min_freq and word not in vocab:
            vocab[word] = len(vocab)
    return vocab


def encode(tokens, vocab):
    """The ids of `tokens` (a list of str): vocab[word], or UNK_ID for a word not in the vocabulary."""
    return [vocab.get(token, UNK_ID) for token in tokens]


def collate(batch):
    """Pad a list of (ids, label) pairs into (ids (B, T), lengths (B,), labels (B,)), all int64.

    ids is a list of ints (or a 1-D int64 tensor); T is the longest length in the batch; the
    padding is PAD_ID and goes at the END of each row (batch first).
    Example: collate([([5, 3], 1), ([4], 0)]) = ([[5, 3], [4, 0]], [2, 1], [1, 0]).
    """
    lengths = torch.tensor([len(ids) for ids, _ in batch], dtype=torch.int64)
    padded = torch.full((len(batch), int(lengths.max())), PAD_ID, dtype=torch.int64)
    for row, (ids, _) in enumerate(batch):
        padded[row, :len(ids)] = torch.as_tensor(ids, dtype=torch.int64)
    labels = torch.tensor([label for _, label in batch], dtype=torch.int64)
    return padded, lengths, labels


class SentimentLSTM(nn.Module):
    """nn.Embedding(vocab_size, embed_dim, padding_idx=PAD_ID) -> nn.LSTM(embed_dim, hidden_size,
    batch_first=True) over the PACKED batch -> nn.Linear(hidden_size, num_classes) on the last
    layer's final hidden state h_n[-1].

    forward(ids (B, T) int64, lengths (B,) int64) -> logits (B, num_classes): raw scores, no softmax.
    The lengths may come on the CPU or on ids' device; pack_padded_sequence wants them on the CPU.
    """

    def __init__(self, vocab_size, embed_dim=32, hidden_size=64, num_classes=2):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD_ID)
        self.lstm = nn.LSTM(embed_dim, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, num_classes)

    def forward(self, ids, lengths):
        x = self.embedding(ids)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, (h_n, _) = self.lstm(packed)
        return self.head(h_n[-1])


def train_epoch(model, loader, optimizer):
    """One pass over `loader` (batches (ids, lengths, labels)) in training mode. For each batch:
    move it to the model's device, logits = model(ids, lengths), F.cross_entropy(logits, labels),
    zero the gradients, backward, step. Returns the mean of the batch losses, a float."""
    model.train()
    device = next(model.parameters()).device
    losses = []
    for ids, lengths, labels in loader:
        ids, lengths, labels = ids.to(device), lengths.to(device), labels.to(device)
        loss = F.cross_entropy(model(ids, lengths), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return sum(losses) / len(losses)


def evaluate(model, loader):
    """The accuracy (a float) of `model` over every review in `loader`, in eval mode, without gradients."""
    model.eval()
    device = next(model.parameters()).device
    correct = total = 0
    with torch.no_grad():
        for ids, lengths, labels in loader:
            predicted = model(ids.to(device), lengths).argmax(dim=1)
            correct += (predicted == labels.to(device)).sum().item()
            total += len(labels)
    return correct / total


def make_loaders(train_texts, train_labels, test_texts, test_labels, batch_size=32, min_freq=2):
    """(vocab, train_loader, test_loader): the vocabulary from the TRAINING texts only; each loader
    yields collate()d batches of (encode(tokenize(text), vocab), label); only the training loader
    shuffles, and neither drops the last, smaller batch."""
    train_tokens = [tokenize(text) for text in train_texts]
    vocab = build_vocab(train_tokens, min_freq)
    train_data = [(encode(tokens, vocab), label) for tokens, label in zip(train_tokens, train_labels)]
    test_data = [(encode(tokenize(text), vocab), label) for text, label in zip(test_texts, test_labels)]
    train_loader = DataLoader(train_data, batch_size=batch_size, shuffle=True, collate_fn=collate)
    test_loader = DataLoader(test_data, batch_size=batch_size, shuffle=False, collate_fn=collate)
    return vocab, train_loader, test_loader
