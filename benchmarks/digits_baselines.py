"""Calibrate the synthetic digits: generation speed and three baseline models.

    python benchmarks/digits_baselines.py [--train 10000] [--test 2000] [--epochs 10] [--seeds 0 1 2]

Prints how long SyntheticDigits takes to draw 10,000 images, then the test accuracy of
logistic regression, a one-hidden-layer MLP and a small CNN trained with Adam on the same
data. The numbers recorded in tutor/checking/digits.py's docstring come from this script.
The learner never runs it; it is for authors who change the generator.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from tutor.checking.digits import SyntheticDigits


def models() -> dict[str, callable]:
    return {
        "logistic regression": lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 10)),
        "MLP 784-256-10": lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10)),
        "small CNN": lambda: nn.Sequential(
            nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, 10),
        ),
    }


def train_eval(make, x, y, xt, yt, epochs: int, seed: int, batch: int = 128, lr: float = 1e-3) -> float:
    torch.manual_seed(seed)
    model = make()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(x), generator=gen).split(batch):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        return (model(xt).argmax(1) == yt).float().mean().item()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", type=int, default=10000)
    parser.add_argument("--test", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    SyntheticDigits(100, seed=99)  # warm up (templates, torch kernels)
    times = []
    for rep in range(3):
        t0 = time.perf_counter()
        SyntheticDigits(10000, seed=rep)
        times.append(time.perf_counter() - t0)
    print(f"generation: 10,000 images in {min(times):.3f} s (best of 3; {torch.get_num_threads()} threads)")

    results: dict[str, list[float]] = {name: [] for name in models()}
    for seed in args.seeds:
        x, y = SyntheticDigits(args.train, seed=seed, train=True).tensors()
        xt, yt = SyntheticDigits(args.test, seed=seed, train=False).tensors()
        mean, std = x.mean(), x.std()
        x, xt = (x - mean) / std, (xt - mean) / std
        for name, make in models().items():
            t0 = time.perf_counter()
            acc = train_eval(make, x, y, xt, yt, args.epochs, seed)
            results[name].append(acc)
            print(f"seed {seed}  {name:20s} test accuracy {acc:.3f}  ({time.perf_counter() - t0:.1f} s)", flush=True)
    print()
    for name, accs in results.items():
        print(f"{name:20s} " + " / ".join(f"{a:.3f}" for a in accs))


if __name__ == "__main__":
    main()
