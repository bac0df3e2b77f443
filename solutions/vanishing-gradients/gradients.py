"""Gradient norms through time, the spectral radius of W_hh, and gradient clipping (reference solution)."""

import torch


def grad_norms_through_time(rnn_fn, x, h0=None):
    """‖∂L/∂x_t‖ for every step t, where L = output[-1].sum() (the last step's output, summed).

    rnn_fn(x, h0) -> (output, state), time-first like nn.RNN / nn.LSTM: x (T, B, I), output (T, B, H).
    Returns a tensor of shape (T,): the norm of the gradient over the batch and features of step t.
    """
    x = x.detach().clone().requires_grad_(True)
    output, _ = rnn_fn(x, h0)
    loss = output[-1].sum()
    (grad,) = torch.autograd.grad(loss, x)
    return grad.flatten(1).norm(dim=1)


def scale_to_radius(W, radius):
    """W scaled so that its spectral radius (the largest |eigenvalue|) equals `radius`."""
    current = torch.linalg.eigvals(W).abs().max()
    return W * (radius / current)


def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    """Scale the .grad of `parameters` in place so that their global norm is at most max_norm.

    Returns the total norm before clipping (a tensor), like torch.nn.utils.clip_grad_norm_.
    """
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    parameters = [p for p in parameters if p.grad is not None]  # a list: a generator runs out
    grads = [p.grad for p in parameters]
    if not grads:
        return torch.tensor(0.0)
    norm_type = float(norm_type)
    if norm_type == float("inf"):
        total = torch.stack([g.detach().abs().max() for g in grads]).max()
    else:
        total = torch.stack([g.detach().norm(norm_type) for g in grads]).norm(norm_type)
    clip_coef = max_norm / (total + 1e-6)
    if clip_coef < 1:
        for p in parameters:
            p.grad.detach().mul_(clip_coef)                        # in place: the same tensors
    return total


def clipped_step(model, loss_fn, x, y, optimizer, max_norm):
    """One training step with clipping: zero the grads, backward, clip, step.

    Returns (the loss as a float, the total gradient norm before clipping as a float).
    """
    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    total = clip_grad_norm(model.parameters(), max_norm)
    optimizer.step()
    return loss.item(), float(total)
