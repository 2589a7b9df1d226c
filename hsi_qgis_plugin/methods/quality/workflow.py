"""Full-reference quality assessment of a restored raster against a reference, with HTML/JSON reports."""
from __future__ import annotations

import os
from typing import Optional


from ...core import metrics
from ...core.errors import HsiInputError
from ...core.outputs import OutputSet
from ...core.progress import Monitor, as_monitor
from ...core.raster import read_raster, valid_pixel_mask
from ...core.report import band_axis, plot_per_band, write_html, write_json
from ...core.tiling import DEFAULT_MEMORY_BUDGET_MB

SCALARS = ("MPSNR", "MSSIM", "SAM", "ERGAS", "Q2N")


def assess_quality(
    reference_path: str,
    estimate_path: str,
    html_path: Optional[str] = None,
    json_path: Optional[str] = None,
    ratio: float = 1.0,
    data_range: Optional[float] = None,
    memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB,
    monitor: Optional[Monitor] = None,
) -> dict:
    """Compare two rasters on the same grid; bad bands and nodata pixels (of either) are left out."""
    monitor = as_monitor(monitor)
    if ratio <= 0:
        raise HsiInputError(f"RATIO must be > 0 (got {ratio})")
    outputs = OutputSet([html_path, json_path], inputs=[reference_path, estimate_path])
    reference, ref_info = read_raster(reference_path, memory_budget_mb / 2, copies=3)
    monitor.check()
    estimate, est_info = read_raster(estimate_path, memory_budget_mb / 2, copies=3)
    if reference.shape != estimate.shape:
        raise HsiInputError(
            f"REFERENCE {os.path.basename(reference_path)} is {ref_info.band_count} bands x {ref_info.height} x "
            f"{ref_info.width} but ESTIMATE {os.path.basename(estimate_path)} is {est_info.band_count} bands x "
            f"{est_info.height} x {est_info.width}; both must share one grid"
        )
    meta = ref_info.metadata
    band_mask = meta.good_bands & est_info.metadata.good_bands
    valid = valid_pixel_mask(reference, meta.nodata, ~band_mask) & valid_pixel_mask(
        estimate, est_info.metadata.nodata, ~band_mask
    )
    if not valid.any():
        raise HsiInputError("REFERENCE and ESTIMATE share no valid pixel (all nodata or not finite)")
    monitor.report(0.3)
    result = metrics.assess(reference, estimate, ratio=ratio, data_range=data_range, mask=valid, band_mask=band_mask)
    monitor.report(0.8)
    result.update(
        reference=os.path.abspath(reference_path),
        estimate=os.path.abspath(estimate_path),
        ratio=ratio,
        bands=int(reference.shape[0]),
        bands_used=int(band_mask.sum()),
        valid_pixels=int(valid.sum()),
        wavelengths_nm=None if meta.wavelengths_nm is None else meta.wavelengths_nm.tolist(),
    )
    with outputs:
        if json_path:
            write_json(outputs.path(json_path), result)
        if html_path:
            x, x_label = band_axis(meta, reference.shape[0])
            plot_path = os.path.splitext(html_path)[0] + "_per_band.png"
            plot_per_band(
                outputs.path(plot_path),
                {"PSNR (dB)": result["PSNR_PER_BAND"], "SSIM": result["SSIM_PER_BAND"]},
                x,
                x_label,
                gaps=~band_mask,
            )
            summary = {name: result[name] for name in SCALARS}
            inputs = {
                "Reference": result["reference"],
                "Estimate": result["estimate"],
                "Bands used": f"{result['bands_used']} of {result['bands']} (bad bands excluded)",
                "Valid pixels": result["valid_pixels"],
                "Data range for PSNR/SSIM": result["data_range"],
                "ERGAS ratio": ratio,
            }
            write_html(outputs.path(html_path), "Quality assessment", [("Summary", summary), ("Inputs", inputs)],
                       [plot_path])
    monitor.report(1.0)
    return result
