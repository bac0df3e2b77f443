"""A tiny BERT: embeddings (word + position + segment), post-norm encoder layers, a pooler.

Everything is batch-first: input_ids, token_type_ids and attention_mask are (B, T) long
tensors; hidden states are (B, T, hidden_size). attention_mask follows BERT's convention:
1 = a real token to attend to, 0 = padding.

Use nn.MultiheadAttention(batch_first=True) as the attention sublayer and nn.LayerNorm; do not
use nn.TransformerEncoderLayer or nn.TransformerEncoder: the check compares your encoder with
them. The check copies weights into your modules by name, so keep the attribute names below.

Run `dltutor check bert`.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class BertConfig:
    """BERT-base's sizes (given)."""

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
    """LayerNorm(word[input_ids] + position[0..T-1] + token_type[token_type_ids]), then dropout.

    Attributes: word_embeddings, position_embeddings, token_type_embeddings (nn.Embedding),
    LayerNorm (nn.LayerNorm with config.layer_norm_eps), dropout (config.hidden_dropout_prob).
    forward(input_ids, token_type_ids=None): None means segment 0 everywhere.
    """

    def __init__(self, config):
        super().__init__()
        # TODO
        raise NotImplementedError("BertEmbeddings.__init__")

    def forward(self, input_ids, token_type_ids=None):
        # TODO
        raise NotImplementedError("BertEmbeddings.forward")


class BertLayer(nn.Module):
    """Post-norm: x = attention_norm(x + drop(attn(x))); x = output_norm(x + drop(W2 gelu(W1 x))).

    Attributes: attention (nn.MultiheadAttention(hidden, heads, dropout=attention_probs_dropout_prob,
    batch_first=True)), attention_norm, intermediate (hidden -> intermediate_size), output
    (intermediate_size -> hidden), output_norm, dropout (hidden_dropout_prob). GELU is the exact one.
    forward(x, attention_mask=None) with attention_mask (B, T), 1 = attend, 0 = padding.
    """

    def __init__(self, config):
        super().__init__()
        # TODO
        raise NotImplementedError("BertLayer.__init__")

    def forward(self, x, attention_mask=None):
        # TODO: nn.MultiheadAttention's key_padding_mask is True where a key is PADDING.
        raise NotImplementedError("BertLayer.forward")


class BertEncoder(nn.Module):
    """self.layer: nn.ModuleList of num_hidden_layers independent BertLayers, applied in order."""

    def __init__(self, config):
        super().__init__()
        # TODO
        raise NotImplementedError("BertEncoder.__init__")

    def forward(self, x, attention_mask=None):
        # TODO
        raise NotImplementedError("BertEncoder.forward")


class BertPooler(nn.Module):
    """tanh(dense(h_[CLS])): the first position's final hidden state through nn.Linear(H, H)."""

    def __init__(self, config):
        super().__init__()
        # TODO: self.dense
        raise NotImplementedError("BertPooler.__init__")

    def forward(self, hidden):
        # TODO
        raise NotImplementedError("BertPooler.forward")


class BertModel(nn.Module):
    """embeddings -> encoder -> (sequence_output (B, T, H), pooled_output (B, H) or None).

    self.embeddings, self.encoder, self.pooler (None when add_pooling_layer=False).
    forward(input_ids, token_type_ids=None, attention_mask=None): no mask means no padding.
    """

    def __init__(self, config, add_pooling_layer=True):
        super().__init__()
        # TODO
        raise NotImplementedError("BertModel.__init__")

    def forward(self, input_ids, token_type_ids=None, attention_mask=None):
        # TODO
        raise NotImplementedError("BertModel.forward")


def bert_params(vocab=30522, hidden=768, layers=12, heads=12, intermediate=3072, max_pos=512, type_vocab=2,
                pooler=True):
    """The number of parameters of BertModel with this configuration, counted by hand (no model)."""
    # TODO: embeddings + layers × (attention + FFN + two LayerNorms) + pooler
    raise NotImplementedError("bert_params")
