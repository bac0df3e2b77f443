"""Make seq2seq_reversal_v1.pt: the trained reversal models of the seq2seq-limits lesson.

    python tutor/checking/weights/make_seq2seq_zoo.py            # rewrites seq2seq_reversal_v1.pt
    python tutor/checking/weights/make_seq2seq_zoo.py OUT.pt     # writes elsewhere (to compare)

train_model(name, seed=0) in tutor/checking/seqmodels.py for every name in ZOO (GRU seq2seq at
H = 16, 32, 64 and one with attention at H = 64): reversal of 2-16 symbols, vocab 20, Adam lr 1e-2,
gradient norm clipped at 1, 800 batches of 128, one CPU thread. It prints the SHA-256 and each
model's free-running token accuracy by length; when you change the recipe on purpose, record the
digest in seqmodels.ZOO_SHA256 and README.md, and re-measure the lesson's thresholds.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

from tutor.checking import seqtasks as st
from tutor.checking.pretrained import file_sha256
from tutor.checking.seqmodels import MAX_LEN, MIN_LEN, VOCAB, ZOO, ZOO_FILE, ZOO_SHA256, save_zoo, train_model


@torch.no_grad()
def token_accuracy_by_length(model, batch) -> dict:
    state = model.encoder(batch.src, batch.src_len)
    token = torch.full((len(batch), 1), st.SOS, dtype=torch.long)
    out = []
    for _ in range(batch.tgt.shape[1]):
        logits, state = model.decoder(token, state)
        token = logits[:, -1].argmax(-1, keepdim=True)
        out.append(token[:, 0])
    pred = st.cut_after_eos(torch.stack(out, 1))
    return {n: st.token_accuracy(pred[batch.src_len == n], batch.tgt[batch.src_len == n])
            for n in range(MIN_LEN, MAX_LEN + 1)}


def main() -> int:
    torch.set_num_threads(1)
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ZOO_FILE
    held_out = st.reversal(3000, MIN_LEN, MAX_LEN, VOCAB, seed=12345)
    models = {}
    for name in ZOO:
        start = time.perf_counter()
        models[name] = train_model(name, seed=0)
        acc = token_accuracy_by_length(models[name], held_out)
        print(f"{name}: trained in {time.perf_counter() - start:.0f} s; token accuracy by length "
              + " ".join(f"{n}:{a:.2f}" for n, a in acc.items()))
    save_zoo(models, out)
    digest = file_sha256(out)
    print(f"{out}: {out.stat().st_size} bytes, sha256 {digest}")
    if digest != ZOO_SHA256:
        print(f"note: differs from the recorded SHA-256 {ZOO_SHA256}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
