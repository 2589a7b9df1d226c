"""The list of algorithms the provider offers (one module per algorithm)."""
from __future__ import annotations


def algorithm_classes() -> list:
    from .assess_quality import AssessQualityAlgorithm
    from .lowrank_denoise import LowRankDenoiseAlgorithm
    from .simulate_degradation import SimulateDegradationAlgorithm

    return [SimulateDegradationAlgorithm, AssessQualityAlgorithm, LowRankDenoiseAlgorithm]
