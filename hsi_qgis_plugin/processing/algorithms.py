"""The provider's algorithms; those that need PyTorch are left out (with a message) when it is not installed."""
from __future__ import annotations

import importlib
from typing import List, Tuple

# (module, class) in toolbox order
ALGORITHMS = (
    ("simulate_degradation", "SimulateDegradationAlgorithm"),
    ("assess_quality", "AssessQualityAlgorithm"),
    ("lowrank_denoise", "LowRankDenoiseAlgorithm"),
    ("superresolve", "SuperResolveAlgorithm"),
    ("train_superresolution", "TrainSuperResolutionAlgorithm"),
    ("pansharpen", "PansharpenAlgorithm"),
    ("assess_pansharpening", "AssessPansharpeningAlgorithm"),
    ("denoise", "DenoiseAlgorithm"),
    ("train_denoiser", "TrainDenoiserAlgorithm"),
    ("pretrain_encoder", "PretrainEncoderAlgorithm"),
    ("classify_few_labels", "ClassifyFewLabelsAlgorithm"),
    ("apply_classifier", "ApplyClassifierAlgorithm"),
)

TORCH_MISSING = (
    "PyTorch is not installed in QGIS's Python, so the neural algorithms ({names}) are not available; "
    "the README's 'Installing into your QGIS' section shows how to add it"
)


def load_algorithm_classes() -> Tuple[List[type], List[str]]:
    """The algorithm classes that can be imported here, and the modules skipped because torch is missing."""
    classes, skipped = [], []
    for module_name, class_name in ALGORITHMS:
        try:
            module = importlib.import_module(f"{__package__}.{module_name}")
        except ModuleNotFoundError as error:
            if error.name != "torch":
                raise
            skipped.append(module_name)
            continue
        classes.append(getattr(module, class_name))
    return classes, skipped

