"""Choice of the torch device (``auto|cpu|cuda[:n]``) with CPU fallback, and thread count."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Optional

from .errors import HsiInputError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class DeviceChoice:
    """The device a run uses, with a one-line description for the user."""

    device: "torch.device"  # noqa: F821
    name: str
    message: str

    @property
    def is_gpu(self) -> bool:
        return self.device.type == "cuda"


def resolve_device(spec: str = "auto", threads: Optional[int] = None) -> DeviceChoice:
    """Resolve ``auto``, ``cpu``, ``cuda`` or ``cuda:N``; fall back to the CPU with a message when needed.

    ``threads`` (> 0) sets torch's intra-op CPU threads; 0 or ``None`` keeps torch's default.
    """
    import torch

    text = (spec or "auto").strip().lower()
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", text):
        raise HsiInputError(f"DEVICE must be 'auto', 'cpu', 'cuda' or 'cuda:N' (got '{spec}')")
    if threads is not None:
        if threads < 0:
            raise HsiInputError(f"The thread count must be >= 0 (got {threads})")
        if threads > 0:
            torch.set_num_threads(threads)
    cpu_name = f"CPU ({torch.get_num_threads()} threads, {os.cpu_count()} cores)"
    fallback = ""
    if text in ("auto", "cuda") or text.startswith("cuda:"):
        if torch.cuda.is_available():
            index = int(text.split(":")[1]) if ":" in text else 0
            if index < torch.cuda.device_count():
                device = torch.device("cuda", index)
                name = torch.cuda.get_device_name(index)
                return DeviceChoice(device, name, f"Running on GPU {index}: {name}")
            fallback = f"GPU {index} does not exist ({torch.cuda.device_count()} GPU(s) found); "
        elif text != "auto":
            fallback = "no CUDA GPU is available to PyTorch; "
    message = f"{fallback}running on {cpu_name}" if fallback else f"Running on {cpu_name}"
    return DeviceChoice(torch.device("cpu"), cpu_name, message[0].upper() + message[1:])


def warm_up_imports() -> bool:
    """Import the modules that jobs would otherwise load on first use, so that no job pays for them mid-run.

    The first torch optimizer imports ``torch._dynamo`` (sympy, the inductor config) and the classifier's graph
    step imports ``scipy.sparse``: imports that hold the GIL for up to 150 ms at a time, enough to freeze the
    QGIS canvas when they happen in a worker thread (docs/benchmarks/ui_responsiveness_classify.md). The plugin
    calls this once from a background thread at start-up. Returns False when PyTorch is missing or an import
    fails (jobs then import what they need themselves).
    """
    try:
        import scipy.sparse  # noqa: F401
        import torch
        import torch._dynamo  # noqa: F401

        torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))])
    except Exception:  # noqa: BLE001 - a warm-up must never break the plugin
        return False
    return True
