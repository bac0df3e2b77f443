"""Measure how hard SyntheticShapes is: a linear model on raw pixels vs small CNNs (not a test).

    python benchmarks/shapes_baselines.py [--seeds 0 1 2 3 4] [--train 3000] [--test 1000]

Prints the test accuracy per model and seed, the generation time, and the training time.
The numbers in tutor/checking/shapes.py's docstring come from this script.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from torch import nn

from tutor.checking.shapes import SyntheticShapes


def small_cnn(relu: bool = True) -> nn.Module:
    act = nn.ReLU if relu else nn.Identity
    model = nn.Sequential(nn.Conv2d(3, 16, 3), act(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 3), act(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 6 * 6, 10))
    with torch.no_grad():
        model[-1].weight.mul_(0.01)
        model[-1].bias.zero_()
    return model


MODELS = {
    "logistic regression (3072-10)": (lambda: nn.Sequential(nn.Flatten(), nn.Linear(3072, 10)), 10, 1e-3),
    "MLP 3072-256-10": (lambda: nn.Sequential(nn.Flatten(), nn.Linear(3072, 256), nn.ReLU(), nn.Linear(256, 10)),
                        10, 1e-3),
    "small CNN, 3 epochs": (small_cnn, 3, 5e-3),
    "small CNN without ReLU, 3 epochs": (lambda: small_cnn(relu=False), 3, 5e-3),
}


def run(make, epochs: int, lr: float, x, y, xt, yt, seed: int) -> tuple[float, float]:
    torch.manual_seed(seed)
    model = make()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), 64):
            idx = order[i:i + 64]
            opt.zero_grad()
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    seconds = time.perf_counter() - start
    with torch.no_grad():
        acc = (model.eval()(xt).argmax(1) == yt).double().mean().item()
    return acc, seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--train", type=int, default=3000)
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    args = parser.parse_args()
    torch.set_num_threads(1)
    gen_times = []
    for _ in range(3):
        start = time.perf_counter()
        SyntheticShapes(10000, seed=0)
        gen_times.append(time.perf_counter() - start)
    print(f"generation of 10,000 images: best {min(gen_times):.2f} s of 3")
    for seed in args.seeds:
        train, test = SyntheticShapes(args.train, seed=seed), SyntheticShapes(args.test, seed=seed, train=False)
        x, y = train.tensors()
        mean, std = x.mean(dim=(0, 2, 3), keepdim=True), x.std(dim=(0, 2, 3), keepdim=True)
        xt, yt = test.tensors()
        x, xt = (x - mean) / std, (xt - mean) / std
        for name in args.models:
            make, epochs, lr = MODELS[name]
            acc, seconds = run(make, epochs, lr, x, y, xt, yt, seed)
            print(f"seed {seed}  {name:34} test accuracy {acc:.3f}  ({seconds:.1f} s)", flush=True)


if __name__ == "__main__":
    main()
