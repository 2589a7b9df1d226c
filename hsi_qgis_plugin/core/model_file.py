"""Model files: weights in safetensors with a JSON model card embedded in the header and written beside it.

The card records what the model is and what it needs (architecture, preset, band count, wavelengths,
normalisation, training data, training time, measured metrics). :func:`check_compatibility` compares a card
with the raster it is applied to and explains every mismatch.
"""
from __future__ import annotations

import datetime
import json
import os
from typing import Dict, Optional, Sequence

import numpy as np

from .errors import HsiError, HsiInputError
from .outputs import OutputSet

FORMAT_VERSION = 1
CARD_KEY = "hsi_model_card"
WAVELENGTH_TOLERANCE_NM = 5.0


def card_path(model_path: str) -> str:
    return os.path.splitext(model_path)[0] + ".json"


def save_model(outputs: OutputSet, path: str, state_dict: Dict[str, "torch.Tensor"], card: dict) -> str:  # noqa: F821
    """Write ``state_dict`` and ``card`` (the file and its JSON card beside it) through ``outputs``.

    ``card`` must name ``task`` and ``architecture``. Weights that are not finite (a diverged training run) are
    refused, so no unusable model file is ever written.
    """
    from safetensors.torch import save_file

    for key in ("task", "architecture"):
        if key not in card:
            raise ValueError(f"model card needs '{key}'")
    tensors = {name: tensor.detach().cpu().contiguous() for name, tensor in state_dict.items()}
    broken = _non_finite(tensors)
    if broken:
        raise HsiError(
            f"Training diverged: {len(broken)} weight tensor(s) hold NaN or infinite values ({', '.join(broken[:3])}); "
            "no model file was written. Try a shorter time budget, another seed or check the input for extreme values"
        )
    full_card = {"format_version": FORMAT_VERSION, "created": datetime.datetime.now().isoformat(timespec="seconds")}
    full_card.update(_plain(card))
    save_file(tensors, outputs.path(path), metadata={CARD_KEY: json.dumps(full_card)})
    with open(outputs.path(card_path(path)), "w", encoding="utf-8") as handle:
        json.dump(full_card, handle, indent=2)
    return path


def _non_finite(tensors: Dict[str, "torch.Tensor"]) -> list:  # noqa: F821
    """Names of the floating-point tensors that hold a NaN or an infinite value."""
    import torch

    return [name for name, tensor in tensors.items()
            if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all())]


def load_model(path: str, task: Optional[str] = None) -> tuple:
    """Read ``(state_dict, card)``; with ``task``, refuse a file made for another task."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    if not path or not os.path.exists(path):
        raise HsiInputError(f"Model file '{path}' does not exist")
    try:
        with safe_open(path, framework="pt") as handle:
            header = handle.metadata() or {}
        state_dict = load_file(path)
    except Exception as error:  # safetensors raises several types for corrupt files
        raise HsiInputError(f"'{path}' is not a model file written by this plugin ({error})") from error
    if CARD_KEY not in header:
        raise HsiInputError(f"'{path}' has no model card: it was not written by this plugin")
    card = json.loads(header[CARD_KEY])
    if card.get("format_version", 0) > FORMAT_VERSION:
        raise HsiInputError(f"'{path}' was written by a newer version of the plugin; please update the plugin")
    if task is not None and card.get("task") != task:
        raise HsiInputError(f"'{os.path.basename(path)}' is a {card.get('task')} model, not a {task} model")
    broken = _non_finite(state_dict)
    if broken:
        raise HsiInputError(
            f"'{os.path.basename(path)}' is unusable: {len(broken)} of its weight tensors hold NaN or infinite values "
            f"({', '.join(broken[:3])}); train the model again"
        )
    return state_dict, card


def check_compatibility(
    card: dict,
    band_count: int,
    wavelengths_nm: Optional[Sequence[float]] = None,
    model_name: str = "The model",
) -> None:
    """Raise one error listing every way the raster differs from what the model was trained on."""
    problems = []
    expected_bands = card.get("band_count")
    if expected_bands is not None and expected_bands != band_count:
        problems.append(f"it was trained on {expected_bands} bands but the raster has {band_count}")
    trained = card.get("wavelengths_nm")
    if trained is not None and wavelengths_nm is not None and len(trained) == len(wavelengths_nm):
        difference = np.abs(np.asarray(trained, dtype=float) - np.asarray(wavelengths_nm, dtype=float))
        if np.nanmax(difference) > WAVELENGTH_TOLERANCE_NM:
            worst = int(np.nanargmax(difference))
            problems.append(
                f"band {worst + 1} is at {wavelengths_nm[worst]:.1f} nm but the model expects "
                f"{trained[worst]:.1f} nm (tolerance {WAVELENGTH_TOLERANCE_NM:.0f} nm)"
            )
    if problems:
        raise HsiInputError(f"{model_name} does not fit this raster: " + "; ".join(problems))


def _plain(value):
    """JSON-safe copy of a card (numpy arrays and scalars to lists and numbers)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
