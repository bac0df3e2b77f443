"""A tiny BERT: embeddings (word + position + segment), post-norm encoder layers, a pooler.

Everything is batch-first: input_ids, token_type_ids and attention_mask are (B, T) long
tensors; hidden states are (B, T, hidden_size). attention_mask follows BERT's convention:
1 = a real token to attend to, 0 = padding.

Use nn.MultiheadAttention(batch_first=True) as the attention sublayer and nn.LayerNorm; do not
use nn.TransformerEncoderLayer or nn.TransformerEncoder: the check compares your encoder with
them.

Run `dltutor check bert`.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class BertConfig:
    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    layer_norm_eps: float = 1e-12


class BertEmbeddings(nn.Module):
    """LayerNorm(word[input_ids] + position[0..T-1] + token_type[token_type_ids]), then dropout."""

    def __init__(self, config):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids, token_type_ids=None):
        T = input_ids.shape[1]
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        positions = torch.arange(T, device=input_ids.device)
        x = (self.word_embeddings(input_ids) + self.position_embeddings(positions)
             + self.token_type_embeddings(token_type_ids))
        return self.dropout(self.LayerNorm(x))


class BertLayer(nn.Module):
    """Post-norm: x = attention_norm(x + drop(attn(x))); x = output_norm(x + drop(W2 gelu(W1 x)))."""

    def __init__(self, config):
        super().__init__()
        h = config.hidden_size
        self.attention = nn.MultiheadAttention(h, config.num_attention_heads,
                                               dropout=config.attention_probs_dropout_prob, batch_first=True)
        self.attention_norm = nn.LayerNorm(h, eps=config.layer_norm_eps)
        self.intermediate = nn.Linear(h, config.intermediate_size)
        self.output = nn.Linear(config.intermediate_size, h)
        self.output_norm = nn.LayerNorm(h, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, x, attention_mask=None):
        pad = None if attention_mask is None else attention_mask == 0
        a = self.attention(x, x, x, key_padding_mask=pad, need_weights=False)[0]
        x = self.attention_norm(x + self.dropout(a))
        f = self.output(F.gelu(self.intermediate(x)))
        return self.output_norm(x + self.dropout(f))


class BertEncoder(nn.Module):
    """num_hidden_layers independent BertLayers, applied in order with the same attention_mask."""

    def __init__(self, config):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(config) for _ in range(config.num_hidden_layers)])

    def forward(self, x, attention_mask=None):
        for layer in self.layer:
            x = layer(x, attention_mask)
        return x


class BertPooler(nn.Module):
    """tanh(dense(h_[CLS])): the first position's final hidden state through a linear layer."""

    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden):
        return torch.tanh(self.dense(hidden[:, 0]))


class BertModel(nn.Module):
    """embeddings -> encoder -> (sequence_output (B, T, H), pooled_output (B, H) or None)."""

    def __init__(self, config, add_pooling_layer=True):
        super().__init__()
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertEncoder(config)
        self.pooler = BertPooler(config) if add_pooling_layer else None

    def forward(self, input_ids, token_type_ids=None, attention_mask=None):
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        sequence_output = self.encoder(self.embeddings(input_ids, token_type_ids), attention_mask)
        pooled = None if self.pooler is None else self.pooler(sequence_output)
        return sequence_output, pooled


def bert_params(vocab=30522, hidden=768, layers=12, heads=12, intermediate=3072, max_pos=512, type_vocab=2,
                pooler=True):
    """The number of parameters of BertModel with this configuration, counted by hand."""
    embeddings = (vocab + max_pos + type_vocab) * hidden + 2 * hidden
    attention = 4 * hidden * hidden + 4 * hidden
    ffn = 2 * hidden * intermediate + intermediate + hidden
    per_layer = attention + ffn + 2 * 2 * hidden
    total = embeddings + layers * per_layer
    return total + (hidden * hidden + hidden if pooler else 0)
