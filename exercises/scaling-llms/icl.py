"""In-context learning: evaluate a frozen model with and without example pairs in its prompt."""

import torch

from tutor.checking.recall import NUM_KEYS


def make_prompt(keys, values, query):
    """The prompt k1 v1 k2 v2 ... kk vk q as a 1-D long tensor of length 2k + 1.

    keys, values: (k,) long tensors (k may be 0: the zero-shot prompt is the query alone);
    query: a 0-d long tensor, the key whose value the model must produce next.
    """
    # TODO: interleave the pairs, then append the query
    raise NotImplementedError("make_prompt")


def icl_accuracy(model, episodes):
    """The fraction of episodes whose query the model answers with the right value, as a float.

    episodes: recall.Episodes on the model's device (keys, values (n, k); query, answer (n,)).
    The model maps token ids (B, T) to logits (B, T, VOCAB). Its prediction is the value token
    (ids NUM_KEYS and up) with the largest logit at the prompt's last position.
    No parameter may change: the pairs are read, not trained on.
    """
    # TODO: build every prompt with make_prompt, stack them, run the model without gradients,
    # take the argmax at the last position, compare with episodes.answer
    raise NotImplementedError("icl_accuracy")
