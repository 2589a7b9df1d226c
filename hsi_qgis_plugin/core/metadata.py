"""Band metadata of hyperspectral rasters: wavelength, FWHM, bad bands, nodata, scale and offset.

Read from (first hit wins, as EnMAP-Box's RasterReader does):
1. band-level default-domain items ``wavelength``, ``wavelength_units``, ``fwhm``, ``bbl``;
2. band-level ``IMAGERY`` domain ``CENTRAL_WAVELENGTH_UM`` / ``FWHM_UM`` (GDAL >= 3.10);
3. dataset-level ``ENVI`` domain lists ``wavelength``, ``wavelength_units``, ``fwhm``, ``bbl``
   (GDAL's ENVI driver, and ``.hdr`` sidecars of GeoTIFFs written by ENVI);
4. dataset-level default-domain lists of the same names.
Wavelengths are always stored in nanometres.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Optional, Sequence

import numpy as np
from osgeo import gdal

from .errors import HsiInputError

_MICROMETRE_UNITS = {"micrometers", "micrometer", "micrometres", "micrometre", "um", "µm", "microns", "micron"}
_NANOMETRE_UNITS = {"nanometers", "nanometer", "nanometres", "nanometre", "nm"}
_MILLIMETRE_UNITS = {"millimeters", "millimeter", "mm"}


@dataclass
class BandMetadata:
    """Per-band metadata; arrays have one entry per band (``None`` when unknown)."""

    band_count: int
    wavelengths_nm: Optional[np.ndarray] = None
    fwhm_nm: Optional[np.ndarray] = None
    bad_bands: np.ndarray = field(default=None)  # bool, True = bad band
    nodata: Optional[float] = None
    scales: Optional[np.ndarray] = None
    offsets: Optional[np.ndarray] = None
    descriptions: Optional[list] = None

    def __post_init__(self) -> None:
        if self.bad_bands is None:
            self.bad_bands = np.zeros(self.band_count, dtype=bool)
        for name in ("wavelengths_nm", "fwhm_nm", "scales", "offsets"):
            value = getattr(self, name)
            if value is not None:
                value = np.asarray(value, dtype=np.float64)
                if value.shape != (self.band_count,):
                    raise HsiInputError(f"{name} has {value.size} entries but the raster has {self.band_count} bands")
                setattr(self, name, value)
        self.bad_bands = np.asarray(self.bad_bands, dtype=bool)
        if self.bad_bands.shape != (self.band_count,):
            raise HsiInputError(f"The bad-band list has {self.bad_bands.size} entries but the raster has {self.band_count} bands")
        if self.descriptions is not None and len(self.descriptions) != self.band_count:
            raise HsiInputError(f"{len(self.descriptions)} band names given for {self.band_count} bands")

    @property
    def good_bands(self) -> np.ndarray:
        return ~self.bad_bands

    def subset(self, band_indices: Sequence[int]) -> "BandMetadata":
        """Metadata of a band subset (0-based indices)."""
        idx = np.asarray(band_indices, dtype=int)
        pick = lambda a: None if a is None else np.asarray(a)[idx]  # noqa: E731
        return replace(
            self,
            band_count=len(idx),
            wavelengths_nm=pick(self.wavelengths_nm),
            fwhm_nm=pick(self.fwhm_nm),
            bad_bands=self.bad_bands[idx],
            scales=pick(self.scales),
            offsets=pick(self.offsets),
            descriptions=None if self.descriptions is None else [self.descriptions[i] for i in idx],
        )

    def band_label(self, index: int) -> str:
        if self.wavelengths_nm is not None:
            return f"Band {index + 1} ({self.wavelengths_nm[index]:.1f} nm)"
        return f"Band {index + 1}"


def _parse_list(text: Optional[str]) -> Optional[list]:
    """Parse an ENVI-style ``{a, b, c}`` list (braces optional) into strings."""
    if text is None:
        return None
    items = [t.strip() for t in text.strip().strip("{}").split(",")]
    items = [t for t in items if t]
    return items or None


def _to_float_array(items: Optional[Sequence], count: int) -> Optional[np.ndarray]:
    if items is None or len(items) != count:
        return None
    try:
        return np.array([float(v) for v in items], dtype=np.float64)
    except ValueError:
        return None


def wavelength_factor_to_nm(units: Optional[str], values: Optional[np.ndarray]) -> float:
    """Multiplier taking wavelengths in ``units`` to nm; guessed from the values when units are unknown."""
    unit = (units or "").strip().lower()
    if unit in _MICROMETRE_UNITS:
        return 1000.0
    if unit in _NANOMETRE_UNITS:
        return 1.0
    if unit in _MILLIMETRE_UNITS:
        return 1.0e6
    if values is not None and np.nanmax(values) < 100.0:
        return 1000.0  # values below 100 are micrometres for any optical sensor
    return 1.0


def _band_item(ds: gdal.Dataset, key: str, domain: str = "") -> Optional[list]:
    values = [ds.GetRasterBand(i + 1).GetMetadataItem(key, domain) for i in range(ds.RasterCount)]
    return None if any(v is None for v in values) else values


def _dataset_list(ds: gdal.Dataset, key: str) -> Optional[list]:
    for domain in ("ENVI", ""):
        items = _parse_list(ds.GetMetadataItem(key, domain))
        if items is not None:
            return items
    return None


def _dataset_item(ds: gdal.Dataset, key: str) -> Optional[str]:
    for domain in ("ENVI", ""):
        value = ds.GetMetadataItem(key, domain)
        if value:
            return value
    return None


def read_band_metadata(ds: gdal.Dataset) -> BandMetadata:
    """Collect band metadata from an open GDAL dataset.

    A VRT mosaic without spectral metadata inherits wavelengths, FWHM and bad bands from its first source.
    """
    meta = _read_own_band_metadata(ds)
    if meta.wavelengths_nm is None and ds.GetDriver().ShortName == "VRT":
        sources = [f for f in (ds.GetFileList() or [])[1:] if not f.lower().endswith(".vrt")]
        if sources:
            try:
                source = gdal.Open(sources[0])
            except RuntimeError:
                source = None
            if source is not None and source.RasterCount == ds.RasterCount:
                inherited = _read_own_band_metadata(source)
                meta.wavelengths_nm = inherited.wavelengths_nm
                meta.fwhm_nm = inherited.fwhm_nm
                if not meta.bad_bands.any():
                    meta.bad_bands = inherited.bad_bands
    return meta


def _read_own_band_metadata(ds: gdal.Dataset) -> BandMetadata:
    count = ds.RasterCount
    band_units = [ds.GetRasterBand(i + 1).GetMetadataItem("wavelength_units") for i in range(count)]
    units = next((u for u in band_units if u), None)
    dataset_units = _dataset_item(ds, "wavelength_units")

    wavelengths = _to_float_array(_band_item(ds, "wavelength"), count)
    if wavelengths is None:
        wavelengths = _to_float_array(_dataset_list(ds, "wavelength"), count)
    factor = wavelength_factor_to_nm(units or dataset_units, wavelengths)
    # FWHM shares the wavelength units (ENVI convention)
    fwhm = _to_float_array(_band_item(ds, "fwhm") or _dataset_list(ds, "fwhm"), count)
    if wavelengths is not None:
        wavelengths = wavelengths * factor
        fwhm = None if fwhm is None else fwhm * factor
    else:
        microns = _to_float_array(_band_item(ds, "CENTRAL_WAVELENGTH_UM", "IMAGERY"), count)
        wavelengths = None if microns is None else microns * 1000.0
        fwhm_microns = _to_float_array(_band_item(ds, "FWHM_UM", "IMAGERY"), count)
        fwhm = None if fwhm_microns is None else fwhm_microns * 1000.0

    bbl = _band_item(ds, "bbl") or _dataset_list(ds, "bbl")
    bad = np.zeros(count, dtype=bool)
    if bbl is not None and len(bbl) == count:
        bad = np.array([float(v) == 0.0 for v in bbl], dtype=bool)

    band = ds.GetRasterBand(1)
    nodata = band.GetNoDataValue()
    if nodata is None:
        ignore = _dataset_item(ds, "data_ignore_value")
        nodata = float(ignore) if ignore else None
    scales = np.array([ds.GetRasterBand(i + 1).GetScale() or 1.0 for i in range(count)])
    offsets = np.array([ds.GetRasterBand(i + 1).GetOffset() or 0.0 for i in range(count)])
    descriptions = [ds.GetRasterBand(i + 1).GetDescription() for i in range(count)]

    return BandMetadata(
        band_count=count,
        wavelengths_nm=wavelengths,
        fwhm_nm=fwhm,
        bad_bands=bad,
        nodata=nodata,
        scales=scales if np.any(scales != 1.0) else None,
        offsets=offsets if np.any(offsets != 0.0) else None,
        descriptions=descriptions if any(descriptions) else None,
    )


def _envi_list(values: Sequence) -> str:
    return "{" + ", ".join(_format_number(v) for v in values) + "}"


def _format_number(value: float) -> str:
    return f"{float(value):.10g}"


def write_band_metadata(ds: gdal.Dataset, meta: BandMetadata) -> None:
    """Write metadata so GDAL, QGIS, EnMAP-Box and ENVI all find it (band items and ENVI-domain lists)."""
    if meta.band_count != ds.RasterCount:
        raise HsiInputError(f"Metadata for {meta.band_count} bands cannot describe a {ds.RasterCount}-band raster")
    envi = {}
    for i in range(meta.band_count):
        band = ds.GetRasterBand(i + 1)
        if meta.wavelengths_nm is not None:
            band.SetMetadataItem("wavelength", _format_number(meta.wavelengths_nm[i]))
            band.SetMetadataItem("wavelength_units", "Nanometers")
        if meta.fwhm_nm is not None:
            band.SetMetadataItem("fwhm", _format_number(meta.fwhm_nm[i]))
        band.SetMetadataItem("bbl", "0" if meta.bad_bands[i] else "1")
        description = meta.descriptions[i] if meta.descriptions else meta.band_label(i)
        band.SetDescription(description)
        if meta.nodata is not None:
            band.SetNoDataValue(float(meta.nodata))
        if meta.scales is not None:
            band.SetScale(float(meta.scales[i]))
        if meta.offsets is not None:
            band.SetOffset(float(meta.offsets[i]))
    if meta.wavelengths_nm is not None:
        envi["wavelength"] = _envi_list(meta.wavelengths_nm)
        envi["wavelength_units"] = "Nanometers"
    if meta.fwhm_nm is not None:
        envi["fwhm"] = _envi_list(meta.fwhm_nm)
    envi["bbl"] = _envi_list(np.where(meta.bad_bands, 0, 1))
    ds.SetMetadata(envi, "ENVI")
