"""Helpers shared by the benchmark scripts: machine description and writing a results section."""
from __future__ import annotations

import datetime
import os
import platform
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.path.join(os.path.dirname(ROOT), "shared", "data")
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine_line() -> str:
    """'- Machine: <cpu>, N cores; date YYYY-MM-DD' for a results section."""
    return f"- Machine: {cpu_model()}, {os.cpu_count()} cores; date {datetime.date.today().isoformat()}"


def write_section(path: str, lines: list) -> str:
    """Print a markdown section and write it to ``path``."""
    text = "\n".join(lines) + "\n"
    print(text)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)
    return text
