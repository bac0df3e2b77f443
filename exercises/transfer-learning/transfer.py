"""Transfer learning: from synthetic digits to real handwriting.

A DigitsCNN was pretrained on 10,000 synthetic digits (the shipped file backbone_path()). You
load it strictly, freeze its body, give it a new head, and fine-tune it on 50 labelled REAL
digits (the 8×8 UCI set, upsampled to 28×28), then compare with a network trained from scratch.

Run `dltutor check transfer-learning`. Run this file (`python transfer.py`) to see the
zero-shot, frozen, fine-tuned and scratch accuracies yourself.
"""

import torch
import torch.nn.functional as F
from torch import nn

from tutor.checking.pretrained import SOURCE_MEAN, SOURCE_STD, DigitsCNN, backbone_path
from tutor.checking.realdigits import few_shot_split, load_uci_digits, to_28x28


def prepare(images):
    """8×8 UCI digits (uint8, values 0..16) -> float32 (n, 1, 28, 28), normalised like the source.

    to_28x28(images) frames and upsamples them to [0, 1]; then apply the backbone's own input
    normalisation, (x - SOURCE_MEAN) / SOURCE_STD.
    """
    # TODO: frame and upsample with to_28x28, then normalise with the SOURCE statistics.
    raise NotImplementedError("prepare")


def load_backbone(model, path):
    """Load the state_dict in `path` into `model` strictly (every key present, none extra); return model.

    Read it with torch.load and weights_only=True: the file holds tensors only.
    """
    # TODO: torch.load(..., map_location="cpu", weights_only=True), then a strict load_state_dict.
    raise NotImplementedError("load_backbone")


def freeze(model):
    """Freeze the body: requires_grad False for every parameter except the head's (model.fc)."""
    # TODO: requires_grad_(False) on every parameter whose name does not start with "fc.".
    raise NotImplementedError("freeze")


def replace_head(model, num_classes):
    """A new, trainable nn.Linear head in model.fc for `num_classes`, as wide as the old one's input."""
    # TODO: a new nn.Linear reading its input size from the old head.
    raise NotImplementedError("replace_head")


def transfer_model(path, num_classes):
    """A DigitsCNN with the pretrained weights in `path` and a new head for `num_classes` classes."""
    # TODO: DigitsCNN(), load_backbone(...), then replace_head(...): in this order.
    raise NotImplementedError("transfer_model")


def param_groups(model, lr_body, lr_head):
    """Optimizer parameter groups: the trainable body parameters at lr_body, the head's at lr_head.

    Frozen parameters (requires_grad False) go in no group; leave out a group that would be empty.
    """
    # TODO: two groups, trainable parameters only; the head's are model.fc.parameters().
    raise NotImplementedError("param_groups")


def fine_tune(model, data, *, lr_body, lr_head, epochs, batch_size, freeze_body=False, generator=None):
    """Train `model` on data = (x, y) with Adam over param_groups(model, lr_body, lr_head).

    With freeze_body, freeze the body BEFORE building the optimizer, and keep its BatchNorm
    layers in eval mode while training (model.train() switches them back on). Shuffle with
    `generator`; return the list of batch losses.
    """
    # TODO: freeze (if asked) BEFORE the optimizer; each epoch: model.train(), then the frozen body back to
    # eval; shuffle with torch.randperm(len(x), generator=generator); zero_grad, loss, backward, step.
    raise NotImplementedError("fine_tune")


def recipe():
    """The learning rates you fine-tune the whole network with: {"lr_body": ..., "lr_head": ...}.

    The check trains 8 epochs in batches of 10 on 5 real digits per class with these rates.
    """
    # TODO: pick the two rates (the lesson explains how).
    raise NotImplementedError("recipe")


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        return (model(x).argmax(1) == y).double().mean().item()


if __name__ == "__main__":
    images, labels = load_uci_digits()
    x, y = prepare(images), torch.from_numpy(labels)
    train, test = few_shot_split(labels, shots=5, seed=0, n_test=1000)
    pretrained = load_backbone(DigitsCNN(), backbone_path())
    print(f"zero-shot (pretrained head, all {len(y)} real digits): {accuracy(pretrained, x, y):.3f}")
    for name, freeze_body, init in (("frozen body + new head", True, True), ("fine-tune all", False, True),
                                    ("from scratch", False, False)):
        torch.manual_seed(0)
        model = transfer_model(backbone_path(), 10) if init else DigitsCNN()
        rates = recipe() if init else {"lr_body": 1e-3, "lr_head": 1e-3}
        fine_tune(model, (x[train], y[train]), epochs=8, batch_size=10, freeze_body=freeze_body,
                  generator=torch.Generator().manual_seed(0), **rates)
        print(f"{name}: {accuracy(model, x[test], y[test]):.3f}")
