"""In-context learning: evaluate a frozen model with and without example pairs in its prompt."""

import torch

from tutor.checking.recall import NUM_KEYS


def make_prompt(keys, values, query):
    """The prompt k1 v1 k2 v2 ... kk vk q as a 1-D long tensor of length 2k + 1.

    keys, values: (k,) long tensors (k may be 0: the zero-shot prompt is the query alone);
    query: a 0-d long tensor, the key whose value the model must produce next.
    """
    pairs = torch.stack([keys, values], dim=1).reshape(-1)
    return torch.cat([pairs, query.reshape(1)])


@torch.no_grad()
def icl_accuracy(model, episodes):
    """The fraction of episodes whose query the model answers with the right value, as a float.

    episodes: recall.Episodes on the model's device (keys, values (n, k); query, answer (n,)).
    The model's prediction is the value token with the largest logit at the prompt's last
    position. No parameter may change: the pairs are read, not trained on.
    """
    prompts = torch.stack([make_prompt(k, v, q) for k, v, q in
                           zip(episodes.keys, episodes.values, episodes.query)])
    logits = model(prompts)[:, -1, NUM_KEYS:]
    predicted = logits.argmax(dim=-1) + NUM_KEYS
    return (predicted == episodes.answer).float().mean().item()
