"""Few-label classification workflows on raster files: self-supervised pretraining, few-label training with
graph refinement, and applying a saved classifier to another scene of the same sensor.

Pipeline: standardised good-band spectra of valid pixels -> SpectralEncoder (INTL on the scene's pixels)
-> per-pixel embeddings -> LoLA-SpecViT on embedding patches (INTL-pretrained backbone, LoRA fine-tuning
with a cyclical schedule), and a kernel ridge classifier on the spectra; the model file keeps both for *Apply
classifier*. On the training scene the map comes from label spreading on a kNN + 8-neighbour graph of the
spectra's leading principal components: the labels' spread posterior times the kernel ridge classifier's
spread probabilities (product of experts; an additive prior let the kernel override the graph, and the
LoLA-SpecViT's own probabilities lowered accuracy, see docs/benchmarks/classify.md). Bad bands and nodata
pixels are never used; nodata pixels get class 0 (no class).
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from typing import Optional

import numpy as np
import torch

from ...core.classification_metrics import accuracy_summary, confusion_matrix
from ...core.device import resolve_device
from ...core.errors import HsiInputError
from ...core.model_file import check_compatibility, load_model, save_model
from ...core.outputs import OutputSet
from ...core.progress import Monitor, as_monitor
from ...core.raster import RasterInfo, read_raster, valid_pixel_mask
from ...models.lola_specvit import LolaSpecViT
from ...models.spectral_encoder import SpectralEncoder
from .model import (
    KernelRidgeClassifier,
    PatchSampler,
    ScenePixels,
    embed_spectra,
    finetune_classifier,
    knn_graph,
    lora_parameter_share,
    predict_patches,
    principal_components,
    propagate_labels,
    scene_pixels,
    spatial_graph,
)
from .io import write_class_raster, write_float_raster, write_report
from .training import pretrain_backbone, pretrain_encoder
from .labels import ClassInfo, LabelImage, read_labels

PRETRAINED_TASK = "pretrained_encoder"
CLASSIFIER_TASK = "classification"
APPLY_CLASSIFIERS = ("kernel", "lola")  # the order of the Processing CLASSIFIER choices
ARCHITECTURE = "SpectralEncoder+LolaSpecViT"
POSTERIOR_FLOOR = 1e-9  # keeps a class the graph never reached decidable by the prior


@dataclass
class ClassifyOptions:
    """Training settings (defaults are the benchmarked preset)."""

    encoder_steps: int = 200
    backbone_steps: int = 100
    finetune_steps: int = 150
    embed_dim: int = 64
    patch: int = 9
    graph: bool = True
    graph_neighbours: int = 10
    graph_components: int = 30
    kernel_prior: bool = True
    kernel_ridge: float = 3.0
    seed: int = 0


@dataclass
class Pretrained:
    """The self-supervised part: encoder, backbone and the normalisation they were trained with."""

    encoder: SpectralEncoder
    backbone: LolaSpecViT
    band_mean: np.ndarray
    band_std: np.ndarray
    embedding_statistics: tuple
    seconds: float
    card: dict = field(default_factory=dict)


def _scene(path: str, memory_budget_mb: Optional[float]) -> tuple:
    data, info = read_raster(path, memory_budget_mb, copies=3.0)
    meta = info.metadata
    good = meta.good_bands if meta.good_bands.any() else np.ones(info.band_count, dtype=bool)
    valid = valid_pixel_mask(data, meta.nodata, ~good)
    return data, info, good, valid


def pretrain_on_pixels(pixels: ScenePixels, options: ClassifyOptions, device: torch.device,
                       monitor: Optional[Monitor] = None) -> Pretrained:
    """INTL-pretrain the encoder on spectra, then the LoLA-SpecViT backbone on embedding patches."""
    monitor = as_monitor(monitor)
    start = time.perf_counter()
    encoder, encoder_loss = pretrain_encoder(
        pixels.spectra, pixels.neighbours(), pixels.mean / pixels.std, steps=options.encoder_steps,
        embed_dim=options.embed_dim, seed=options.seed, device=device, monitor=monitor.span(0.0, 0.6),
    )
    embedding, statistics = embed_spectra(encoder, pixels.spectra, device)
    sampler = PatchSampler(embedding, pixels, options.patch)
    backbone, backbone_loss = pretrain_backbone(
        sampler, len(embedding), embedding.shape[1], options.patch, steps=options.backbone_steps,
        seed=options.seed, device=device, monitor=monitor.span(0.6, 1.0),
    )
    seconds = time.perf_counter() - start
    monitor.log(f"Self-supervised pretraining: INTL loss {encoder_loss[0]:.3f} -> {encoder_loss[-1]:.3f} (encoder), "
                f"{backbone_loss[0]:.3f} -> {backbone_loss[-1]:.3f} (backbone), {seconds:.1f} s")
    return Pretrained(encoder, backbone, pixels.mean, pixels.std, statistics, seconds)


def classify_pixels(
    pixels: ScenePixels,
    pretrained: Pretrained,
    train_index: np.ndarray,
    train_class: np.ndarray,
    classes: int,
    options: ClassifyOptions,
    device: torch.device,
    monitor: Optional[Monitor] = None,
) -> tuple:
    """Fine-tune a copy of the backbone and fit a kernel ridge classifier on the labelled pixels, and
    classify every valid pixel.

    ``train_index`` indexes the valid pixels, ``train_class`` is 0-based. Returns (probabilities (n, K),
    fine-tuned LoLA-SpecViT, kernel ridge classifier, embedding statistics). With ``options.graph`` the
    probabilities come from :func:`refine_with_graph`, seeded by the kernel classifier, and both classifiers
    are kept for the model file that *Apply classifier* runs; without it, from the LoLA-SpecViT.
    """
    monitor = as_monitor(monitor)
    embedding, statistics = embed_spectra(pretrained.encoder, pixels.spectra, device,
                                          statistics=pretrained.embedding_statistics)
    sampler = PatchSampler(embedding, pixels, options.patch)
    classifier = LolaSpecViT(embedding.shape[1], 2, patch=options.patch).to(device)
    classifier.load_state_dict(pretrained.backbone.state_dict())
    classifier = finetune_classifier(classifier, sampler, train_index, train_class, classes,
                                     steps=options.finetune_steps, seed=options.seed, device=device,
                                     monitor=monitor.span(0.0, 0.6))
    monitor.log(f"LoRA fine-tuning trained {100 * lora_parameter_share(classifier):.0f} % of the classifier's parameters")
    kernel = KernelRidgeClassifier.fit(pixels.spectra, train_index, train_class, classes, options.kernel_ridge,
                                       seed=options.seed)
    if options.graph:
        prior = kernel.predict(pixels.spectra, monitor.span(0.6, 0.7)) if options.kernel_prior else None
        probabilities = refine_with_graph(pixels, train_index, train_class, classes, options, prior,
                                          monitor.span(0.7, 1.0))
    else:
        probabilities, _ = predict_patches(classifier, sampler, len(embedding), device, monitor=monitor.span(0.6, 1.0))
    monitor.report(1.0)
    return probabilities.astype(np.float32), classifier, kernel, statistics


def refine_with_graph(pixels: ScenePixels, train_index: np.ndarray, train_class: np.ndarray, classes: int,
                      options: ClassifyOptions, prior: Optional[np.ndarray] = None,
                      monitor: Optional[Monitor] = None) -> np.ndarray:
    """Label spreading on a kNN + 8-neighbour graph of the spectra's principal components (n, K).

    With ``prior`` (n, K) class probabilities, the result is the product of two experts spread on the same
    graph: the labels' posterior and the prior's, renormalised. The graph decides where the labels reach
    clearly, the prior where they do not, and neither overrides the other by sheer mass.
    """
    monitor = as_monitor(monitor)
    components = principal_components(pixels.spectra, options.graph_components)
    graph = knn_graph(components, options.graph_neighbours, monitor.span(0.0, 0.9))
    graph = graph + spatial_graph(components, pixels.neighbours())
    monitor.check()
    seeds = np.zeros((len(pixels.spectra), classes), dtype=np.float32)
    seeds[train_index, train_class] = 1.0
    refined = propagate_labels(graph, seeds)
    if prior is not None:
        refined = (refined + POSTERIOR_FLOOR) * (propagate_labels(graph, prior) + POSTERIOR_FLOOR)
        refined /= refined.sum(axis=1, keepdims=True)
    monitor.report(1.0)
    return refined


def _pretrained_state(pretrained: Pretrained) -> dict:
    return {**_with_prefix(pretrained.encoder.state_dict(), "encoder."),
            **_with_prefix(pretrained.backbone.state_dict(), "backbone.")}


def _normalisation(pretrained: Pretrained) -> dict:
    return {
        "type": "per-band standardisation of the good bands, then per-feature standardised embeddings",
        "band_mean": pretrained.band_mean, "band_std": pretrained.band_std,
        "embedding_mean": pretrained.embedding_statistics[0], "embedding_std": pretrained.embedding_statistics[1],
    }


def _base_card(info: RasterInfo, good: np.ndarray, options: ClassifyOptions) -> dict:
    wavelengths = info.metadata.wavelengths_nm
    return {
        "architecture": ARCHITECTURE,
        "preset": asdict(options),
        "band_count": info.band_count,
        "wavelengths_nm": None if wavelengths is None else wavelengths,
        "good_bands": good,
        "training_data": f"unlabelled valid pixels of {os.path.basename(info.path)} "
                         f"({info.width} x {info.height} pixels, {info.band_count} bands)",
    }


def _load_pretrained(path: str, info: RasterInfo, device: torch.device) -> Pretrained:
    state, card = load_model(path, PRETRAINED_TASK)
    check_compatibility(card, info.band_count, info.metadata.wavelengths_nm, "The pretrained encoder")
    preset = card["preset"]
    encoder = SpectralEncoder(preset["embed_dim"]).to(device)
    encoder.load_state_dict(_prefixed(state, "encoder."))
    backbone = LolaSpecViT(preset["embed_dim"], 2, patch=preset["patch"]).to(device)
    backbone.load_state_dict(_prefixed(state, "backbone."))
    norm = card["normalisation"]
    return Pretrained(encoder.eval(), backbone.eval(), np.array(norm["band_mean"]), np.array(norm["band_std"]),
                      (np.array(norm["embedding_mean"]), np.array(norm["embedding_std"])), 0.0, card)


def pretrain_raster(
    raster_path: str,
    model_path: str,
    options: Optional[ClassifyOptions] = None,
    device: str = "auto",
    threads: Optional[int] = None,
    memory_budget_mb: Optional[float] = None,
    monitor: Optional[Monitor] = None,
) -> Pretrained:
    """Self-supervised pretraining on a raster's unlabelled pixels, saved as a reusable model file."""
    monitor = as_monitor(monitor)
    options = options or ClassifyOptions()
    outputs = OutputSet([model_path], inputs=[raster_path])
    choice = resolve_device(device, threads)
    monitor.log(choice.message)
    data, info, good, valid = _scene(raster_path, memory_budget_mb)
    pixels = scene_pixels(data, valid, good)
    del data
    pretrained = pretrain_on_pixels(pixels, options, choice.device, monitor.span(0.0, 0.98))
    card = _base_card(info, good, options)
    card.update({
        "task": PRETRAINED_TASK,
        "normalisation": _normalisation(pretrained),
        "training_time_s": round(pretrained.seconds, 2),
        "metrics": {"note": "self-supervised (INTL); no labels, so no accuracy"},
        "device": choice.name,
    })
    with outputs:
        save_model(outputs, model_path, _pretrained_state(pretrained), card)
    monitor.report(1.0)
    return pretrained


@dataclass
class ClassifyResult:
    class_map: np.ndarray
    classes: list
    summary: Optional[dict]
    label_counts: dict
    seconds: float
    warnings: list


def _validation_summary(validation: Optional[LabelImage], class_map: np.ndarray, classes: list) -> Optional[dict]:
    if validation is None:
        return None
    values = [c.value for c in classes]
    position = {v: i for i, v in enumerate(values)}
    mask = np.isin(validation.classes, values) & (class_map > 0)
    if not mask.any():
        return None
    reference = np.vectorize(position.get)(validation.classes[mask])
    predicted = np.vectorize(lambda v: position.get(v, -1))(class_map[mask])
    matrix = confusion_matrix(reference, predicted, len(values))
    return accuracy_summary(matrix, [c.name for c in classes])


def classify_raster(
    raster_path: str,
    labels_path: str,
    output_path: str,
    class_field: Optional[str] = None,
    color_field: Optional[str] = None,
    confidence_path: Optional[str] = None,
    report_path: Optional[str] = None,
    validation_path: Optional[str] = None,
    validation_field: Optional[str] = None,
    model_path: Optional[str] = None,
    probabilities_path: Optional[str] = None,
    pretrained_path: Optional[str] = None,
    options: Optional[ClassifyOptions] = None,
    device: str = "auto",
    threads: Optional[int] = None,
    memory_budget_mb: Optional[float] = None,
    monitor: Optional[Monitor] = None,
) -> ClassifyResult:
    """Train on a few labelled pixels (vector or raster labels) and classify the whole raster."""
    monitor = as_monitor(monitor)
    options = options or ClassifyOptions()
    start = time.perf_counter()
    outputs = OutputSet([output_path, confidence_path, probabilities_path, model_path, report_path],
                        inputs=[raster_path, labels_path, validation_path, pretrained_path])
    with outputs:
        choice = resolve_device(device, threads)
        monitor.log(choice.message)
        data, info, good, valid = _scene(raster_path, memory_budget_mb)
        labels = read_labels(labels_path, info.grid, class_field, color_field, valid, role="LABELS")
        validation = None
        if validation_path:
            validation = read_labels(validation_path, info.grid, validation_field or class_field, None, valid,
                                     class_order=[c.name for c in labels.info], role="VALIDATION", minimum_classes=1)
        for message in labels.warnings + (validation.warnings if validation else []):
            monitor.log(f"Warning: {message}")
        classes = [c for c in labels.info if (labels.classes == c.value).any()]
        if pretrained_path:
            pretrained = _load_pretrained(pretrained_path, info, choice.device)
            options.embed_dim, options.patch = pretrained.card["preset"]["embed_dim"], pretrained.card["preset"]["patch"]
            pixels = scene_pixels(data, valid, good, pretrained.band_mean, pretrained.band_std)
        else:
            pixels = scene_pixels(data, valid, good)
        del data
        if not pretrained_path:
            pretrained = pretrain_on_pixels(pixels, options, choice.device, monitor.span(0.0, 0.55))
        on_valid = labels.classes[pixels.valid]
        train_index = np.flatnonzero(on_valid > 0)
        position = {c.value: i for i, c in enumerate(classes)}
        train_class = np.array([position[v] for v in on_valid[train_index]], dtype=np.int64)
        monitor.log("Training pixels per class: " + ", ".join(f"{c.name}: {int((on_valid == c.value).sum())}"
                                                               for c in classes))
        probabilities, classifier, kernel, statistics = classify_pixels(
            pixels, pretrained, train_index, train_class, len(classes), options, choice.device,
            monitor.span(0.55, 0.95),
        )
        class_map = np.zeros(pixels.shape, dtype=np.int32)
        class_map[pixels.valid] = np.array([c.value for c in classes])[probabilities.argmax(axis=1)]
        _write_maps(outputs, class_map, probabilities, pixels, info, classes, output_path, confidence_path,
                    probabilities_path)
        summary = _validation_summary(validation, class_map, classes)
        counts = {c.name: int((on_valid == c.value).sum()) for c in classes}
        seconds = time.perf_counter() - start
        if summary is not None:
            monitor.log(f"Validation: OA {100 * summary['overall_accuracy']:.1f} %, AA "
                        f"{100 * summary['average_accuracy']:.1f} %, kappa {summary['kappa']:.3f}")
        if report_path:
            write_report(outputs, report_path, summary, counts, {
                "Input raster": raster_path, "Training labels": labels_path,
                "Validation labels": validation_path or "none", "Device": choice.name,
                "Graph refinement": "yes" if options.graph else "no", "Run time (s)": round(seconds, 1),
            })
        if model_path:
            card = _base_card(info, good, options)
            card.update({
                "task": CLASSIFIER_TASK,
                "classes": [asdict(c) for c in classes],
                "normalisation": {**_normalisation(pretrained), "embedding_mean": statistics[0],
                                  "embedding_std": statistics[1]},
                "training_data": card["training_data"] + f"; {len(train_index)} labelled pixels from "
                                                         f"{os.path.basename(labels_path)}",
                "label_counts": counts,
                "kernel_classifier": kernel.card(),
                "training_time_s": round(seconds, 2),
                "metrics": summary or {"note": "no validation labels were given"},
                "device": choice.name,
            })
            state = {**_with_prefix(pretrained.encoder.state_dict(), "encoder."),
                     **_with_prefix(classifier.state_dict(), "classifier."), **_with_prefix(kernel.state(), "kernel.")}
            save_model(outputs, model_path, state, card)
        monitor.report(1.0)
        return ClassifyResult(class_map, classes, summary, counts, seconds, labels.warnings)


def _write_maps(outputs: OutputSet, class_map, probabilities, pixels: ScenePixels, info: RasterInfo, classes: list,
                output_path: str, confidence_path: Optional[str], probabilities_path: Optional[str]) -> None:
    write_class_raster(outputs, output_path, class_map, info.grid, classes)
    if confidence_path:
        confidence = np.full(pixels.shape, -1.0, dtype=np.float32)
        confidence[pixels.valid] = probabilities.max(axis=1)
        write_float_raster(outputs.path(confidence_path), confidence[np.newaxis], info.grid,
                           ["confidence (top probability)"])
    if probabilities_path:
        stack = np.full((len(classes),) + pixels.shape, -1.0, dtype=np.float32)
        stack[:, pixels.valid] = probabilities.T
        write_float_raster(outputs.path(probabilities_path), stack, info.grid, [f"P({c.name})" for c in classes])


def apply_classifier(
    raster_path: str,
    model_path: str,
    output_path: str,
    confidence_path: Optional[str] = None,
    probabilities_path: Optional[str] = None,
    classifier: str = "kernel",
    device: str = "auto",
    threads: Optional[int] = None,
    memory_budget_mb: Optional[float] = None,
    monitor: Optional[Monitor] = None,
) -> np.ndarray:
    """Run a classifier saved by :func:`classify_raster` on another raster of the same sensor.

    ``classifier``: "kernel", the kernel ridge classifier on the spectra (far more accurate on other scenes,
    see docs/benchmarks/classify.md), or "lola", the LoLA-SpecViT on INTL embedding patches. Model files
    written before the kernel classifier was saved fall back to the LoLA-SpecViT, with a warning.
    """
    monitor = as_monitor(monitor)
    outputs = OutputSet([output_path, confidence_path, probabilities_path], inputs=[raster_path, model_path])
    with outputs:
        if classifier not in APPLY_CLASSIFIERS:
            raise HsiInputError(f"Unknown classifier '{classifier}'; choose one of {', '.join(APPLY_CLASSIFIERS)}")
        choice = resolve_device(device, threads)
        monitor.log(choice.message)
        state, card = load_model(model_path, CLASSIFIER_TASK)
        data, info, _, _ = _scene(raster_path, memory_budget_mb)
        check_compatibility(card, info.band_count, info.metadata.wavelengths_nm, "The classifier")
        good = np.asarray(card["good_bands"], dtype=bool)
        valid = valid_pixel_mask(data, info.metadata.nodata, ~good)
        norm = card["normalisation"]
        preset = card["preset"]
        pixels = scene_pixels(data, valid, good, np.array(norm["band_mean"]), np.array(norm["band_std"]))
        del data
        classes = [ClassInfo(c["value"], c["name"], tuple(c["color"])) for c in card["classes"]]
        if classifier == "kernel" and "kernel_classifier" not in card:
            monitor.log("Warning: this model file has no kernel classifier (it was written by an older version of "
                        "the plugin); using its LoLA-SpecViT")
            classifier = "lola"
        monitor.check()
        if classifier == "kernel":
            kernel = KernelRidgeClassifier.from_saved(_prefixed(state, "kernel."), card["kernel_classifier"])
            probabilities = kernel.predict(pixels.spectra, monitor.span(0.1, 0.9))
            monitor.log(f"Kernel ridge classifier on the spectra ({len(kernel.anchors)} training pixels)")
        else:
            probabilities = _lola_probabilities(state, norm, preset, pixels, len(classes), choice.device,
                                                monitor.span(0.1, 0.9))
            monitor.log("LoLA-SpecViT on INTL embedding patches")
        class_map = np.zeros(pixels.shape, dtype=np.int32)
        class_map[pixels.valid] = np.array([c.value for c in classes])[probabilities.argmax(axis=1)]
        _write_maps(outputs, class_map, probabilities, pixels, info, classes, output_path, confidence_path,
                    probabilities_path)
        monitor.report(1.0)
        return class_map


def _with_prefix(state: dict, prefix: str) -> dict:
    """One part's weights as model-file entries ``prefix + name``; :func:`_prefixed` reads them back."""
    return {prefix + k: v for k, v in state.items()}


def _prefixed(state: dict, prefix: str) -> dict:
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def _lola_probabilities(state: dict, norm: dict, preset: dict, pixels: ScenePixels, classes: int,
                        device: torch.device, monitor: Monitor) -> np.ndarray:
    encoder = SpectralEncoder(preset["embed_dim"]).to(device)
    encoder.load_state_dict(_prefixed(state, "encoder."))
    classifier = LolaSpecViT(preset["embed_dim"], classes, patch=preset["patch"]).to(device)
    classifier.load_state_dict(_prefixed(state, "classifier."))
    embedding, _ = embed_spectra(encoder, pixels.spectra, device,
                                 statistics=(norm["embedding_mean"], norm["embedding_std"]))
    probabilities, _ = predict_patches(classifier, PatchSampler(embedding, pixels, preset["patch"]),
                                       len(embedding), device, monitor=monitor)
    return probabilities

