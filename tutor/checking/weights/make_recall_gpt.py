"""Make recall_gpt_v1.pt: the small GPT of the scaling-llms lesson (in-context associative recall).

    python tutor/checking/weights/make_recall_gpt.py            # rewrites recall_gpt_v1.pt
    python tutor/checking/weights/make_recall_gpt.py OUT.pt     # writes elsewhere (to compare)

train_recall_gpt(seed=0) in tutor/checking/recall.py: sequences of 12 (key, value) pairs with a
fresh random map each, loss on every value, batch 64, Adam lr 3e-3, 600 steps, one CPU thread.
It prints the SHA-256 and the accuracy by number of pairs in the prompt on 8 evaluation draws;
when you change the recipe on purpose, record the digest in recall.RECALL_SHA256 and README.md,
and re-measure the lesson's thresholds.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

from tutor.checking.pretrained import file_sha256
from tutor.checking.recall import NUM_KEYS, RECALL_FILE, RECALL_SHA256, episodes, save_state, train_recall_gpt


@torch.no_grad()
def accuracy(model, k: int, seed: int, n: int = 800) -> float:
    ep = episodes(n, k, torch.Generator().manual_seed(seed))
    prompts = torch.cat([torch.stack([ep.keys, ep.values], 2).reshape(n, 2 * k), ep.query[:, None]], 1)
    predicted = model(prompts)[:, -1, NUM_KEYS:].argmax(-1) + NUM_KEYS
    return (predicted == ep.answer).float().mean().item()


def main() -> int:
    torch.set_num_threads(1)
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else RECALL_FILE
    start = time.perf_counter()
    model = train_recall_gpt(seed=0, log=lambda step, loss: print(f"step {step}: loss {loss:.3f}", flush=True))
    print(f"trained in {time.perf_counter() - start:.0f} s")
    save_state(model, out)
    for k in (0, 1, 2, 4, 6, 8):
        accs = [accuracy(model, k, seed) for seed in range(8)]
        print(f"{k:2d} pairs: accuracy {min(accs):.4f}-{max(accs):.4f} over evaluation seeds 0-7")
    digest = file_sha256(out)
    print(f"{out}: {out.stat().st_size} bytes, sha256 {digest}")
    if digest != RECALL_SHA256:
        print(f"note: differs from the recorded SHA-256 {RECALL_SHA256}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
