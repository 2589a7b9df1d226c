"""Few-label classification on arrays: scene preparation, spectral embeddings, LoRA fine-tuning of the
LoLA-SpecViT classifier with a cyclical schedule, and graph label propagation.

Everything works on the valid pixels of one scene: ``spectra`` (n_valid, good bands) standardised, with the
pixel positions kept in ``ScenePixels``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from ...core.errors import HsiInputError
from ...core.progress import Monitor, as_monitor
from ...models.lola_specvit import LolaSpecViT
from ...models.spectral_encoder import SpectralEncoder

NEIGHBOUR_OFFSETS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))


@dataclass
class ScenePixels:
    """Valid pixels of a scene: standardised good-band spectra and their positions."""

    spectra: np.ndarray  # (n, good bands) float32
    valid: np.ndarray  # (rows, cols) bool
    good_bands: np.ndarray  # (bands,) bool
    mean: np.ndarray  # (good bands,)
    std: np.ndarray  # (good bands,)

    @property
    def shape(self) -> tuple:
        return self.valid.shape

    @property
    def flat_index(self) -> np.ndarray:
        return np.flatnonzero(self.valid.ravel())

    def neighbours(self) -> np.ndarray:
        """(n, 8) index (into the valid pixels) of each 8-neighbour, -1 where outside or invalid."""
        rows, cols = self.shape
        position = -np.ones((rows + 2, cols + 2), dtype=np.int64)
        position[1:-1, 1:-1][self.valid] = np.arange(int(self.valid.sum()))
        r, c = np.nonzero(self.valid)
        return np.stack([position[r + 1 + dr, c + 1 + dc] for dr, dc in NEIGHBOUR_OFFSETS], axis=1)


def scene_pixels(
    data: np.ndarray,
    valid: np.ndarray,
    good_bands: np.ndarray,
    mean: Optional[np.ndarray] = None,
    std: Optional[np.ndarray] = None,
) -> ScenePixels:
    """Standardise the good bands of the valid pixels (statistics of this scene unless given)."""
    if not valid.any():
        raise HsiInputError("The raster has no valid pixel (every pixel is nodata in some good band)")
    spectra = data[good_bands][:, valid].T.astype(np.float64)
    if mean is None:
        mean = spectra.mean(axis=0)
        std = spectra.std(axis=0)
    std = np.where(std > 1e-12, std, 1.0)
    standardised = ((spectra - mean) / std).astype(np.float32)
    return ScenePixels(standardised, valid, good_bands, np.asarray(mean), np.asarray(std))


@torch.no_grad()
def embed_spectra(encoder: SpectralEncoder, spectra: np.ndarray, device: torch.device, batch: int = 8192,
                  statistics: Optional[tuple] = None) -> tuple:
    """(n, B) standardised spectra -> ((n, E) embeddings standardised per feature, (mean, std) used).

    ``statistics`` reuses the (mean, std) of the scene the classifier was trained on.
    """
    encoder.eval()
    out = [encoder(torch.from_numpy(spectra[i:i + batch]).to(device)).cpu() for i in range(0, len(spectra), batch)]
    embedding = torch.cat(out).numpy()
    if statistics is None:
        statistics = (embedding.mean(axis=0), np.maximum(embedding.std(axis=0), 1e-6))
    mean, std = (np.asarray(s, dtype=np.float32) for s in statistics)
    return ((embedding - mean) / std).astype(np.float32), (mean, std)


class PatchSampler:
    """Feature patches ``(n, C, p, p)`` centred on valid pixels; outside the scene and invalid pixels are 0."""

    def __init__(self, features: np.ndarray, pixels: ScenePixels, patch: int) -> None:
        rows, cols = pixels.shape
        half = patch // 2
        image = np.zeros((features.shape[1], rows + 2 * half, cols + 2 * half), dtype=np.float32)
        image[:, half:half + rows, half:half + cols][:, pixels.valid] = features.T
        self.image = torch.from_numpy(image)
        self.rows, self.cols = np.nonzero(pixels.valid)
        self.patch = patch
        offsets = torch.arange(patch)
        self._dy = offsets.view(1, patch, 1)
        self._dx = offsets.view(1, 1, patch)

    def __call__(self, index) -> torch.Tensor:
        index = np.asarray(index)
        r = torch.from_numpy(self.rows[index]).view(-1, 1, 1) + self._dy
        c = torch.from_numpy(self.cols[index]).view(-1, 1, 1) + self._dx
        return self.image[:, r, c].permute(1, 0, 2, 3).contiguous()


def cyclical_lr(step: int, period: int, low: float, high: float) -> float:
    """Triangular cyclical learning rate (Smith 2017)."""
    phase = (step % period) / period
    return low + (high - low) * (1.0 - abs(2.0 * phase - 1.0))


def finetune_classifier(
    backbone: LolaSpecViT,
    sampler: PatchSampler,
    train_index: np.ndarray,
    train_class: np.ndarray,
    classes: int,
    steps: int = 200,
    lr_low: float = 2e-4,
    lr_high: float = 3e-3,
    period: int = 50,
    seed: int = 0,
    batch: int = 128,
    device: Optional[torch.device] = None,
    monitor: Optional[Monitor] = None,
) -> LolaSpecViT:
    """Few-label fine-tuning: base weights frozen, LoRA adapters, norms and a new head trained with a
    triangular cyclical learning rate; LoRA strength follows the cycle (0.5 at its low, 1 at its peak).

    ``train_class`` holds 0-based classes; training patches are augmented by flips and rotations. Each step
    uses every labelled pixel, or a random ``batch`` of them when there are more (polygon labels).
    """
    monitor = as_monitor(monitor)
    device = device or torch.device("cpu")
    torch.manual_seed(seed)
    backbone.head = torch.nn.Linear(backbone.head.in_features, classes).to(device)
    for name, parameter in backbone.named_parameters():
        parameter.requires_grad_(name.startswith("head") or "lora_" in name or "norm" in name)
    trainable = [p for p in backbone.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=lr_high, weight_decay=1e-3)
    train_index = np.asarray(train_index)
    y_all = torch.from_numpy(np.asarray(train_class, dtype=np.int64))
    counts = torch.bincount(y_all, minlength=classes).clamp_min(1).float()
    loss_fn = torch.nn.CrossEntropyLoss(weight=(counts.sum() / counts / classes).to(device), label_smoothing=0.1)
    generator = torch.Generator().manual_seed(seed)
    backbone.train()
    for step in range(steps):
        monitor.check()
        lr = cyclical_lr(step, period, lr_low, lr_high)
        for group in optimizer.param_groups:
            group["lr"] = lr
        backbone.set_lora_strength(0.5 + 0.5 * (lr - lr_low) / (lr_high - lr_low))
        chosen = torch.randperm(len(y_all), generator=generator)[:batch] if len(y_all) > batch else slice(None)
        k = int(torch.randint(0, 4, (1,), generator=generator))
        x = torch.rot90(sampler(train_index[chosen]), k, dims=(2, 3))
        if torch.rand(1, generator=generator).item() < 0.5:
            x = x.flip(3)
        x = x + 0.05 * torch.randn(x.shape, generator=generator)
        loss = loss_fn(backbone(x.to(device)), y_all[chosen].to(device))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        monitor.report((step + 1) / steps)
    backbone.set_lora_strength(1.0)
    backbone.eval()
    return backbone


@torch.no_grad()
def predict_patches(model: LolaSpecViT, sampler: PatchSampler, count: int, device: torch.device,
                    batch: int = 1024, monitor: Optional[Monitor] = None) -> tuple:
    """Class probabilities (count, K) and centre embeddings (count, E) for every valid pixel."""
    monitor = as_monitor(monitor)
    model.eval()
    probabilities, embeddings = [], []
    for start in range(0, count, batch):
        monitor.check()
        x = sampler(np.arange(start, min(count, start + batch))).to(device)
        embedding = model.embed(x)
        probabilities.append(torch.softmax(model.head(embedding), dim=1).cpu())
        embeddings.append(embedding.cpu())
        monitor.report(min(count, start + batch) / count)
    return torch.cat(probabilities).numpy(), torch.cat(embeddings).numpy()


def principal_components(spectra: np.ndarray, components: int = 30) -> np.ndarray:
    """(n, B) standardised spectra -> (n, components) scores on the leading principal axes."""
    centred = spectra - spectra.mean(axis=0)
    covariance = centred.T @ centred / max(1, len(centred) - 1)
    values, vectors = np.linalg.eigh(covariance.astype(np.float64))
    order = np.argsort(values)[::-1][:min(components, spectra.shape[1])]
    return (centred @ vectors[:, order]).astype(np.float32)


KNN_BLOCK_VALUES = 16 * 2 ** 20  # distances computed at once (64 MB): freeing larger blocks stalls the GIL holder


def knn_graph(features: np.ndarray, k: int = 10, monitor: Optional[Monitor] = None):
    """Symmetric sparse kNN graph with Gaussian weights (median neighbour distance as the bandwidth)."""
    from scipy import sparse

    monitor = as_monitor(monitor)
    x = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32))
    norms = (x * x).sum(dim=1)
    distances, neighbours = [], []
    chunk = max(64, KNN_BLOCK_VALUES // max(1, len(x)))
    for start in range(0, len(x), chunk):
        monitor.check()
        monitor.report(start / len(x))
        d2 = norms[start:start + chunk, None] - 2 * x[start:start + chunk] @ x.t() + norms[None, :]
        d2[torch.arange(d2.shape[0]), torch.arange(start, start + d2.shape[0])] = float("inf")
        value, index = torch.topk(d2, min(k, len(x) - 1), dim=1, largest=False)
        distances.append(value.clamp_min(0).numpy())
        neighbours.append(index.numpy())
    d2 = np.concatenate(distances)
    j = np.concatenate(neighbours)
    sigma2 = max(float(np.median(d2)), 1e-12)
    rows = np.repeat(np.arange(len(x)), j.shape[1])
    graph = sparse.csr_matrix((np.exp(-d2.ravel() / sigma2), (rows, j.ravel())), shape=(len(x), len(x)))
    return graph.maximum(graph.T)


def spatial_graph(features: np.ndarray, neighbours: np.ndarray):
    """Sparse graph joining 8-neighbour pixels, weighted by feature similarity."""
    from scipy import sparse

    rows = np.repeat(np.arange(len(neighbours)), neighbours.shape[1])
    cols = neighbours.ravel()
    keep = cols >= 0
    rows, cols = rows[keep], cols[keep]
    d2 = ((features[rows] - features[cols]) ** 2).sum(axis=1)
    weight = np.exp(-d2 / max(float(np.median(d2)), 1e-12))
    return sparse.csr_matrix((weight, (rows, cols)), shape=(len(neighbours), len(neighbours)))


KERNEL_PRIOR_MAX_LABELS = 3000  # labelled pixels the kernel classifier fits at most (stratified by class)


@dataclass
class KernelRidgeClassifier:
    """One-vs-rest RBF kernel ridge classifier on per-pixel features (the standardised good-band spectra).

    ``anchors`` (m, d) are the fitted labelled pixels, ``weights`` (m, K) the dual coefficients; scores become
    probabilities by a softmax with ``sharpness``. Saved in the classifier's model file, so *Apply classifier*
    can run it on another scene standardised with the training scene's statistics.
    """

    anchors: torch.Tensor
    weights: torch.Tensor
    gamma: float
    sharpness: float = 20.0

    @classmethod
    def fit(cls, features: np.ndarray, train_index: np.ndarray, train_class: np.ndarray, classes: int,
            ridge: float = 3.0, sharpness: float = 20.0, seed: int = 0) -> "KernelRidgeClassifier":
        """Targets are +-1 per class; the kernel width follows the variance of all ``features`` (1 / (d var),
        scikit-learn's 'scale'). Polygon labels can give thousands of pixels: at most
        ``KERNEL_PRIOR_MAX_LABELS`` are fitted, drawn evenly over the classes."""
        index, target = _stratified_subset(train_index, train_class, KERNEL_PRIOR_MAX_LABELS, seed)
        gamma = 1.0 / (features.shape[1] * max(float(features.var(dtype=np.float64)), 1e-12))
        anchors = torch.from_numpy(np.ascontiguousarray(features[index], dtype=np.float32))
        one_vs_rest = -torch.ones(len(index), classes, dtype=torch.float64)
        one_vs_rest[torch.arange(len(index)), torch.from_numpy(target)] = 1.0
        system = _rbf(anchors, anchors, gamma).double() + ridge * torch.eye(len(index), dtype=torch.float64)
        return cls(anchors, torch.linalg.solve(system, one_vs_rest).float(), gamma, sharpness)

    def predict(self, features: np.ndarray, monitor: Optional[Monitor] = None) -> np.ndarray:
        """Class probabilities (n, K), computed in blocks of at most 64 MB of kernel values."""
        monitor = as_monitor(monitor)
        x = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32))
        probabilities = np.empty((len(x), self.weights.shape[1]), dtype=np.float32)
        chunk = max(256, KNN_BLOCK_VALUES // max(1, len(self.anchors)))
        for start in range(0, len(x), chunk):
            monitor.check()
            block = _rbf(x[start:start + chunk], self.anchors, self.gamma) @ self.weights
            probabilities[start:start + chunk] = torch.softmax(self.sharpness * block, dim=1).numpy()
            monitor.report(min(len(x), start + chunk) / len(x))
        return probabilities

    def state(self) -> dict:
        return {"anchors": self.anchors, "weights": self.weights}

    def card(self) -> dict:
        return {"gamma": self.gamma, "sharpness": self.sharpness, "fitted_pixels": len(self.anchors)}

    @classmethod
    def from_saved(cls, state: dict, card: dict) -> "KernelRidgeClassifier":
        return cls(state["anchors"].float(), state["weights"].float(), float(card["gamma"]), float(card["sharpness"]))


def _rbf(rows: torch.Tensor, anchors: torch.Tensor, gamma: float) -> torch.Tensor:
    return torch.exp(-gamma * torch.cdist(rows, anchors).square())


def _stratified_subset(index: np.ndarray, target: np.ndarray, limit: int, seed: int) -> tuple:
    index, target = np.asarray(index), np.asarray(target, dtype=np.int64)
    if len(index) <= limit:
        return index, target
    rng = np.random.default_rng(seed)
    present = np.unique(target)
    keep = np.concatenate([rng.permutation(np.flatnonzero(target == c))[:max(1, limit // len(present))]
                           for c in present])
    return index[keep], target[keep]


def propagate_labels(graph, seeds: np.ndarray, alpha: float = 0.99, iterations: int = 60) -> np.ndarray:
    """Label spreading (Zhou et al. 2004): F <- α S F + (1 - α) Y, S = D^-1/2 W D^-1/2; rows sum to 1.

    ``seeds`` (n, K): one-hot rows for labelled pixels, optional soft priors elsewhere, zeros otherwise.
    """
    from scipy import sparse

    degree = np.asarray(graph.sum(axis=1)).ravel()
    scale = sparse.diags(1.0 / np.sqrt(np.maximum(degree, 1e-12)))
    s = (scale @ graph @ scale).tocsr()
    f = seeds.astype(np.float64).copy()
    for _ in range(iterations):
        f = alpha * (s @ f) + (1.0 - alpha) * seeds
    total = f.sum(axis=1, keepdims=True)
    return np.where(total > 0, f / np.maximum(total, 1e-300), 1.0 / seeds.shape[1])


def lora_parameter_share(model: LolaSpecViT) -> float:
    """Fraction of the classifier's parameters that fine-tuning trains."""
    total = sum(p.numel() for p in model.parameters())
    trained = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trained / max(total, 1)
