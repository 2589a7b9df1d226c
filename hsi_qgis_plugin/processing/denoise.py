"""Denoise: low-rank, FastHyDe-style subspace, or an HSDT / MAN network fitted on the scene or loaded from a file."""
from __future__ import annotations

from qgis.core import (
    QgsProcessingOutputNumber,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
)

from ..methods.denoise.workflow import METHODS, PRESETS, denoise_raster
from .base import P_SEED, HsiAlgorithm

METHOD_LABELS = (
    "Low-rank (HySime projection + Wiener)",
    "Subspace (FastHyDe-style, robust to stripes, dead lines and impulses)",
    "HSDT network (self-supervised)",
    "MAN network (self-supervised)",
)


class DenoiseAlgorithm(HsiAlgorithm):
    INPUT = "INPUT"
    METHOD = "METHOD"
    MODEL_FILE = "MODEL_FILE"
    PRESET = "PRESET"
    TIME_BUDGET = "TIME_BUDGET"
    RANK = "RANK"
    OUTPUT = "OUTPUT"

    algorithm_id = "denoise"
    display_name = "Denoise"
    group_key = "enhancement"
    output_file_parameters = (OUTPUT,)
    help_text = (
        "Removes Gaussian, band-dependent, stripe, dead-line and impulse noise from a hyperspectral raster "
        "without any clean training data.\n\n"
        "<b>Low-rank</b>: the classical baseline (projection on the HySime signal subspace, Wiener-filtered "
        "eigen-images).\n"
        "<b>Subspace</b>: first finds dead lines, stuck (saturated or dropped) values and impulses and removes "
        "stripes, using the spectral correlation of the bands; then whitens the bands by their estimated noise, "
        "projects on the signal subspace and denoises every eigen-image with a sliding-DCT filter (FastHyDe "
        "scheme); flagged values are re-estimated from the result.\n"
        "<b>HSDT</b> / <b>MAN</b>: the same, followed by a Hybrid Spectral Denoising Transformer or a Mixed "
        "Attention Network that refines the eigen-images. Without a MODEL FILE the network is trained on this "
        "scene itself (self-supervised Neighbor2Neighbor objective) for the TIME BUDGET; with a MODEL FILE "
        "written by <i>Train denoiser</i> it is applied directly (the file must match the band count and "
        "wavelengths).\n\n"
        "Bad bands (bbl = 0) and nodata pixels are copied unchanged. The output keeps the input's "
        "georeferencing, wavelengths and band names."
    )

    def initAlgorithm(self, config=None) -> None:
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, "Hyperspectral raster"))
        self.addParameter(
            QgsProcessingParameterEnum(self.METHOD, "Method", options=list(METHOD_LABELS), defaultValue=1)
        )
        self.addParameter(
            QgsProcessingParameterFile(
                self.MODEL_FILE, "Model file to apply (HSDT/MAN; empty = fit on this scene)",
                extension="safetensors", optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                self.TIME_BUDGET, "Training time budget when fitting on this scene (seconds)",
                QgsProcessingParameterNumber.Type.Double, defaultValue=120.0, minValue=1.0,
            )
        )
        self.add_advanced(
            QgsProcessingParameterEnum(self.PRESET, "Network size", options=list(PRESETS), defaultValue=0)
        )
        self.add_advanced(
            QgsProcessingParameterNumber(
                self.RANK, "Subspace rank (0 = automatic)", QgsProcessingParameterNumber.Type.Integer,
                defaultValue=0, minValue=0,
            )
        )
        self.add_device_parameters()
        self.add_tiling_parameters()
        self.add_seed_parameter()
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, "Denoised raster"))
        self.addOutput(QgsProcessingOutputNumber(self.RANK, "Subspace rank used"))

    def run_algorithm(self, parameters, context, feedback):
        info = self.hsi_raster(parameters, self.INPUT, context)
        output = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        method = METHODS[self.parameterAsEnum(parameters, self.METHOD, context)]
        model_file = self.parameterAsFile(parameters, self.MODEL_FILE, context) or None
        if model_file and method not in ("hsdt", "man"):
            feedback.pushWarning(f"MODEL_FILE is only used by the HSDT and MAN methods; ignored for {method}")
        result = denoise_raster(
            info.path,
            output,
            method=method,
            model_file=model_file,
            preset=PRESETS[self.parameterAsEnum(parameters, self.PRESET, context)],
            **self.device_options(parameters, context),
            time_budget_s=self.parameterAsDouble(parameters, self.TIME_BUDGET, context),
            rank=self.parameterAsInt(parameters, self.RANK, context),
            seed=self.parameterAsInt(parameters, P_SEED, context),
            monitor=self.monitor(feedback),
            **self.tiling(parameters, context),
        )
        feedback.pushInfo(f"{method}: subspace rank {result.rank}, {result.seconds:.1f} s; output {output}")
        return {self.OUTPUT: output, self.RANK: result.rank}
