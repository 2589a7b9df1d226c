"""HTML + JSON + PNG reports, and RGB quicklooks, drawn with matplotlib's Agg canvas (never a Qt backend)."""
from __future__ import annotations

import datetime
import html
import json
import os
from typing import Dict, Optional, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .metadata import BandMetadata


def _save(figure: Figure, path: str) -> str:
    FigureCanvasAgg(figure)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    return path


def band_axis(meta: Optional[BandMetadata], band_count: int) -> tuple:
    """x values and label for per-band plots: wavelengths when known, else band numbers."""
    if meta is not None and meta.wavelengths_nm is not None:
        return np.asarray(meta.wavelengths_nm), "Wavelength (nm)"
    return np.arange(1, band_count + 1), "Band"


def plot_per_band(path: str, series: Dict[str, Sequence[float]], x: np.ndarray, x_label: str, gaps=None) -> str:
    """One panel per named series (e.g. PSNR, SSIM) against wavelength; ``gaps`` (bool) are left blank."""
    figure = Figure(figsize=(8, 2.4 * len(series)))
    for i, (name, values) in enumerate(series.items()):
        axis = figure.add_subplot(len(series), 1, i + 1)
        y = np.array(values, dtype=float)
        if gaps is not None:
            y[np.asarray(gaps, dtype=bool)] = np.nan
        y[~np.isfinite(y)] = np.nan
        axis.plot(x, y, marker=".", linewidth=1)
        axis.set_ylabel(name)
        axis.grid(alpha=0.3)
    axis.set_xlabel(x_label)
    return _save(figure, path)


def write_json(path: str, payload: dict) -> str:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(_jsonable(payload), handle, indent=2)
    return path


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def write_html(path: str, title: str, sections: Sequence[tuple], images: Sequence[str] = ()) -> str:
    """A self-contained page: ``sections`` are (heading, {name: value}) tables; images are linked PNGs."""
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}th{background:#eee}"
        "td:first-child{text-align:left}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>Written {datetime.datetime.now().isoformat(timespec='seconds')} by hsi_qgis_plugin.</p>",
    ]
    for heading, rows in sections:
        parts.append(f"<h2>{html.escape(heading)}</h2><table>")
        for name, value in rows.items():
            parts.append(f"<tr><td>{html.escape(str(name))}</td><td>{html.escape(_format(value))}</td></tr>")
        parts.append("</table>")
    for image in images:
        parts.append(f"<p><img src='{html.escape(os.path.basename(image))}' style='max-width:100%'></p>")
    parts.append("</body></html>")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(parts))
    return path


def _format(value) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{value:.4f}" if np.isfinite(value) else "inf"
    return str(value)


def rgb_bands(meta: Optional[BandMetadata], band_count: int) -> list:
    """Band indices closest to 640, 550 and 470 nm (true colour), or three spread bands without wavelengths."""
    if meta is not None and meta.wavelengths_nm is not None:
        wavelengths = np.where(meta.bad_bands, np.inf, meta.wavelengths_nm)
        return [int(np.argmin(np.abs(wavelengths - target))) for target in (640.0, 550.0, 470.0)]
    return [int(band_count * f) for f in (0.75, 0.5, 0.25)]


def stretch_rgb(data: np.ndarray, bands: Sequence[int], limits: Optional[np.ndarray] = None) -> tuple:
    """2-98 % stretched (rows, cols, 3) image and the limits used (pass them on to stretch a pair alike)."""
    rgb = np.stack([data[b] for b in bands], axis=-1).astype(np.float64)
    if limits is None:
        limits = np.array([np.nanpercentile(rgb[..., i], [2, 98]) for i in range(3)])
    scaled = (rgb - limits[:, 0]) / np.maximum(limits[:, 1] - limits[:, 0], 1e-12)
    return np.clip(np.nan_to_num(scaled), 0, 1), limits


def quicklook(path: str, panels: Dict[str, np.ndarray], meta: Optional[BandMetadata]) -> str:
    """Side-by-side true-colour panels (e.g. clean / noisy / denoised), stretched alike from the first."""
    bands = rgb_bands(meta, next(iter(panels.values())).shape[0])
    figure = Figure(figsize=(4 * len(panels), 4.3))
    limits = None
    for i, (title, data) in enumerate(panels.items()):
        image, limits = stretch_rgb(data, bands, limits)
        axis = figure.add_subplot(1, len(panels), i + 1)
        axis.imshow(image, interpolation="nearest")
        axis.set_title(title)
        axis.set_axis_off()
    return _save(figure, path)
