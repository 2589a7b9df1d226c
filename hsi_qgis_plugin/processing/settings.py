"""Provider settings (device, threads, tile size, memory budget), shown in Settings > Options > Processing.

Values live in QgsSettings under the keys ProcessingConfig uses, so algorithms read them the same way in the
desktop, in ``qgis_process`` and in tests, whether or not the options page has been opened.
"""
from __future__ import annotations

from qgis.core import QgsSettings

GROUP = "Hyperspectral"
DEFAULTS = {
    "HSI_DEVICE": ("Device for PyTorch models (auto, cpu, cuda or cuda:N)", "auto"),
    "HSI_THREADS": ("CPU threads for PyTorch (0 = PyTorch default)", 0),
    "HSI_TILE_SIZE": ("Tile size in pixels", 256),
    "HSI_MEMORY_MB": ("Memory budget per run (MB)", 1024),
}


def _value(name: str):
    default = DEFAULTS[name][1]
    value = QgsSettings().value(f"Processing/Configuration/{name}", default)
    try:
        return type(default)(value)
    except (TypeError, ValueError):
        return default


def device() -> str:
    return _value("HSI_DEVICE")


def threads() -> int:
    return _value("HSI_THREADS")


def tile_size() -> int:
    return _value("HSI_TILE_SIZE")


def memory_mb() -> int:
    return _value("HSI_MEMORY_MB")


def register() -> None:
    """Add the settings to the Processing options page (needs the Processing plugin)."""
    from processing.core.ProcessingConfig import ProcessingConfig, Setting

    for name, (description, default) in DEFAULTS.items():
        ProcessingConfig.addSetting(Setting(GROUP, name, description, default))
    ProcessingConfig.readSettings()


def unregister() -> None:
    from processing.core.ProcessingConfig import ProcessingConfig

    for name in DEFAULTS:
        if name in ProcessingConfig.settings:
            ProcessingConfig.removeSetting(name)
