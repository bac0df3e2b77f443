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
    return (to_28x28(images) - SOURCE_MEAN) / SOURCE_STD


def load_backbone(model, path):
    """Load the state_dict in `path` into `model` strictly (every key present, none extra); return model.

    Read it with torch.load and weights_only=True: the file holds tensors only.
    """
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model


def freeze(model):
    """Freeze the body: requires_grad False for every parameter except the head's (model.fc)."""
    for name, p in model.named_parameters():
        if not name.startswith("fc."):
            p.requires_grad_(False)
    return model


def replace_head(model, num_classes):
    """A new, trainable nn.Linear head in model.fc for `num_classes`, as wide as the old one's input."""
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model


def transfer_model(path, num_classes):
    """A DigitsCNN with the pretrained weights in `path` and a new head for `num_classes` classes."""
    model = load_backbone(DigitsCNN(), path)
    return replace_head(model, num_classes)


def param_groups(model, lr_body, lr_head):
    """Optimizer parameter groups: the trainable body parameters at lr_body, the head's at lr_head.

    Frozen parameters (requires_grad False) go in no group; leave out a group that would be empty.
    """
    head = [p for p in model.fc.parameters() if p.requires_grad]
    head_ids = {id(p) for p in model.fc.parameters()}
    body = [p for p in model.parameters() if p.requires_grad and id(p) not in head_ids]
    groups = [{"params": body, "lr": lr_body}] if body else []
    return groups + [{"params": head, "lr": lr_head}]


def fine_tune(model, data, *, lr_body, lr_head, epochs, batch_size, freeze_body=False, generator=None):
    """Train `model` on data = (x, y) with Adam over param_groups(model, lr_body, lr_head).

    With freeze_body, freeze the body BEFORE building the optimizer, and keep its BatchNorm
    layers in eval mode while training (model.train() switches them back on). Shuffle with
    `generator`; return the list of batch losses.
    """
    if freeze_body:
        freeze(model)
    optimizer = torch.optim.Adam(param_groups(model, lr_body, lr_head))
    x, y = data
    losses = []
    for _ in range(epochs):
        model.train()
        if freeze_body:
            model.features.eval()  # frozen BatchNorm keeps its running statistics
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), batch_size):
            idx = order[start:start + batch_size]
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return losses


def recipe():
    """The learning rates you fine-tune the whole network with: {"lr_body": ..., "lr_head": ...}.

    The check trains 8 epochs in batches of 10 on 5 real digits per class with these rates.
    """
    return {"lr_body": 3e-4, "lr_head": 3e-3}


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
