"""Fine-tuning an encoder for sentiment: a classification head on [CLS] or a masked mean-pool,
parameter groups (two learning rates, no weight decay on biases and LayerNorm weights), warm-up
with linear decay, frozen lower layers, a training loop and an evaluation in eval mode.

The encoder is given (the check builds one): encoder(input_ids, attention_mask) returns the hidden
states (B, T, H); attention_mask is (B, T) with 1 = a real token, 0 = padding (BERT's convention);
encoder.embeddings is its embedding module and encoder.layers its list of layers, lowest first.

Run `dltutor check bert-fine-tuning`.
"""

import torch
import torch.nn.functional as F
from torch import nn


class ClassificationHead(nn.Module):
    """dropout, then one nn.Linear(hidden, n_classes): a pooled (B, H) vector -> logits (B, C)."""

    def __init__(self, hidden, n_classes, dropout=0.1):
        # TODO: self.dropout = nn.Dropout(dropout); self.classifier = nn.Linear(hidden, n_classes)
        raise NotImplementedError("ClassificationHead.__init__")

    def forward(self, pooled):
        # TODO: dropout first, then the linear layer
        raise NotImplementedError("ClassificationHead.forward")


def mean_pool(hidden_states, attention_mask):
    """The mean of hidden_states (B, T, H) over the real tokens of each row (attention_mask 1) -> (B, H)."""
    # TODO: sum over the real tokens only, divide by how many there are in each row
    raise NotImplementedError("mean_pool")


class SentimentClassifier(nn.Module):
    """encoder -> pool ("cls": the first position; "mean": mean_pool) -> ClassificationHead."""

    def __init__(self, encoder, hidden, n_classes=2, pooling="cls", dropout=0.1):
        # TODO: keep self.encoder, self.pooling and self.head = ClassificationHead(hidden, n_classes, dropout);
        # refuse a pooling other than "cls" or "mean" (ValueError)
        raise NotImplementedError("SentimentClassifier.__init__")

    def forward(self, input_ids, attention_mask):
        # TODO: run the encoder WITH the attention mask, pool, apply the head
        raise NotImplementedError("SentimentClassifier.forward")


def param_groups(model, lr_body, lr_head, weight_decay):
    """Optimizer groups: the encoder at lr_body, the head at lr_head; weight_decay on the weight
    matrices, 0 on biases and LayerNorm weights (every 1-D parameter)."""
    # TODO: four groups: (encoder, head) x (decay, no decay), each with its own "lr" and "weight_decay"
    raise NotImplementedError("param_groups")


def warmup_linear(step, warmup, total):
    """The learning-rate multiplier at optimizer step `step` (0-based): step/warmup while
    step < warmup, then a straight line from 1 at step = warmup down to 0 at step = total."""
    # TODO: mind step 0 (the first update) and guard the divisions when warmup = 0 or total = warmup
    raise NotImplementedError("warmup_linear")


def make_scheduler(optimizer, warmup, total):
    """A LambdaLR that multiplies every group's learning rate by warmup_linear(step, warmup, total)."""
    # TODO: torch.optim.lr_scheduler.LambdaLR with a function of the step count
    raise NotImplementedError("make_scheduler")


def freeze_lower(model, k):
    """Stop training the embeddings and the first k encoder layers (requires_grad False)."""
    # TODO: model.encoder.embeddings and model.encoder.layers[:k]: requires_grad_(False)
    raise NotImplementedError("freeze_lower")


def train_epoch(model, batches, optimizer, scheduler):
    """One pass over batches of (input_ids, attention_mask, labels) in train mode; per batch:
    cross-entropy, zero_grad, backward, optimizer.step(), then scheduler.step(). Returns the losses."""
    # TODO: model.train(); per batch: loss, zero_grad, backward, optimizer.step(), scheduler.step()
    raise NotImplementedError("train_epoch")


def evaluate(model, batches):
    """Accuracy over batches of (input_ids, attention_mask, labels), in eval mode under inference_mode."""
    # TODO: model.eval() and torch.inference_mode(); count correct argmax predictions
    raise NotImplementedError("evaluate")
