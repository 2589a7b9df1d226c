"""Device choice: auto/cpu/cuda[:n] with CPU fallback and a message naming the device."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hsi_qgis_plugin.core.device import resolve_device
from hsi_qgis_plugin.core.errors import HsiInputError


def test_cpu_is_reported_with_the_thread_setting():
    previous = torch.get_num_threads()
    try:
        choice = resolve_device("cpu", threads=1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(previous)
    assert choice.device.type == "cpu" and not choice.is_gpu
    assert "1 threads" in choice.name and choice.message.startswith("Running on CPU")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the fallback on a machine without CUDA")
@pytest.mark.parametrize("spec", ["cuda", "cuda:1"])
def test_cuda_falls_back_to_cpu_with_an_explanation(spec):
    choice = resolve_device(spec)
    assert choice.device.type == "cpu"
    assert "no cuda gpu" in choice.message.lower()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_reports_the_gpu_name():
    choice = resolve_device("auto")
    assert choice.is_gpu and torch.cuda.get_device_name(0) in choice.message


@pytest.mark.parametrize("spec", ["gpu", "cuda:x", "tpu"])
def test_bad_device_strings_are_rejected(spec):
    with pytest.raises(HsiInputError, match="DEVICE"):
        resolve_device(spec)


def test_negative_threads_are_rejected():
    with pytest.raises(HsiInputError, match="thread"):
        resolve_device("cpu", threads=-2)


ROOT = Path(__file__).resolve().parents[2]
WARM_UP = """
import sys
{block}
from hsi_qgis_plugin.core.device import warm_up_imports
loaded = ("torch._dynamo", "scipy.sparse")
before = any(name in sys.modules for name in loaded)
print(before, warm_up_imports(), all(name in sys.modules for name in loaded))
"""


@pytest.mark.parametrize("block, expected", [("", "False True True"),
                                             ("sys.modules['torch'] = None", "False False False")])
def test_warm_up_imports_what_jobs_would_load_mid_run(block, expected):
    """The start-up warm-up loads torch._dynamo and scipy.sparse (so no job stalls the canvas importing them)
    and is harmless without PyTorch."""
    result = subprocess.run([sys.executable, "-c", WARM_UP.format(block=block)], capture_output=True, text=True,
                            check=True, cwd=ROOT)
    assert result.stdout.split()[-3:] == expected.split()
