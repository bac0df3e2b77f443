"""Print what torch sees on this machine as one JSON object (run in a child process)."""

from __future__ import annotations

import json
import os
import sys


def main() -> None:
    info: dict[str, object] = {"python": sys.version.split()[0]}
    try:
        import torch

        from tutor.checking.determinism import CPU_THREADS, describe_device, pick_device
    except Exception as exc:  # torch missing or broken: say so, do not crash
        info["error"] = f"{type(exc).__name__}: {exc}"
        print(json.dumps(info))
        return
    torch.set_num_threads(CPU_THREADS)
    device = pick_device(os.environ.get("DLTUTOR_DEVICE") or None)
    info.update(
        torch=torch.__version__,
        cuda=torch.cuda.is_available(),
        cuda_version=torch.version.cuda,
        mps=bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()),
        device=str(device),
        device_name=describe_device(device),
        cpu_count=os.cpu_count(),
    )
    print(json.dumps(info))


if __name__ == "__main__":
    main()
