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
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden, n_classes)

    def forward(self, pooled):
        return self.classifier(self.dropout(pooled))


def mean_pool(hidden_states, attention_mask):
    """The mean of hidden_states (B, T, H) over the real tokens of each row (attention_mask 1) -> (B, H)."""
    m = attention_mask.unsqueeze(-1).to(hidden_states.dtype)
    return (hidden_states * m).sum(1) / m.sum(1).clamp(min=1.0)


class SentimentClassifier(nn.Module):
    """encoder -> pool ("cls": the first position; "mean": mean_pool) -> ClassificationHead."""

    def __init__(self, encoder, hidden, n_classes=2, pooling="cls", dropout=0.1):
        super().__init__()
        if pooling not in ("cls", "mean"):
            raise ValueError(f"pooling is 'cls' or 'mean', got {pooling!r}")
        self.encoder = encoder
        self.pooling = pooling
        self.head = ClassificationHead(hidden, n_classes, dropout)

    def forward(self, input_ids, attention_mask):
        hidden = self.encoder(input_ids, attention_mask)
        pooled = hidden[:, 0] if self.pooling == "cls" else mean_pool(hidden, attention_mask)
        return self.head(pooled)


def param_groups(model, lr_body, lr_head, weight_decay):
    """Optimizer groups: the encoder at lr_body, the head at lr_head; weight_decay on the weight
    matrices, 0 on biases and LayerNorm weights (every 1-D parameter)."""
    groups = []
    for module, lr in ((model.encoder, lr_body), (model.head, lr_head)):
        params = [p for p in module.parameters() if p.requires_grad]
        groups.append({"params": [p for p in params if p.ndim >= 2], "lr": lr, "weight_decay": weight_decay})
        groups.append({"params": [p for p in params if p.ndim < 2], "lr": lr, "weight_decay": 0.0})
    return groups


def warmup_linear(step, warmup, total):
    """The learning-rate multiplier at optimizer step `step` (0-based): step/warmup while
    step < warmup, then a straight line from 1 at step = warmup down to 0 at step = total."""
    if step < warmup:
        return step / max(1, warmup)
    return max(0.0, (total - step) / max(1, total - warmup))


def make_scheduler(optimizer, warmup, total):
    """A LambdaLR that multiplies every group's learning rate by warmup_linear(step, warmup, total)."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: warmup_linear(step, warmup, total))


def freeze_lower(model, k):
    """Stop training the embeddings and the first k encoder layers (requires_grad False)."""
    for p in model.encoder.embeddings.parameters():
        p.requires_grad_(False)
    for layer in model.encoder.layers[:k]:
        for p in layer.parameters():
            p.requires_grad_(False)


def train_epoch(model, batches, optimizer, scheduler):
    """One pass over batches of (input_ids, attention_mask, labels) in train mode; per batch:
    cross-entropy, zero_grad, backward, optimizer.step(), then scheduler.step(). Returns the losses."""
    model.train()
    losses = []
    for input_ids, attention_mask, labels in batches:
        loss = F.cross_entropy(model(input_ids, attention_mask), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
    return losses


def evaluate(model, batches):
    """Accuracy over batches of (input_ids, attention_mask, labels), in eval mode under inference_mode."""
    was_training = model.training
    model.eval()
    correct = total = 0
    with torch.inference_mode():
        for input_ids, attention_mask, labels in batches:
            correct += int((model(input_ids, attention_mask).argmax(-1) == labels).sum())
            total += len(labels)
    model.train(was_training)
    return correct / total
