"""The one owner of every file a run creates: :class:`OutputSet`, a transaction over output files.

A run declares its destinations (and its inputs) when it starts. The set refuses, before anything runs, a
destination that names an input (compared by resolved path, through symlinks and relative paths) or another
destination, and a destination whose folder is missing or not writable. Writers then write under hidden
temporary names beside each destination (:meth:`OutputSet.path`), and scratch files live under such names too
(:meth:`OutputSet.scratch`). Leaving the ``with`` block normally commits every file with ``os.replace``;
leaving it by any exception, cancel or interrupt (``BaseException``: ``KeyboardInterrupt``, ``SystemExit``)
removes them all. A file that was at a destination before the run stays untouched unless the run succeeds, and
a GDAL ``.aux.xml`` of an earlier file at a destination is replaced or removed, never left to describe the new
file. Scratch files are always removed.

Usage, with the checks made where the run starts and the writes wrapped::

    outputs = OutputSet([output_path], inputs=[input_path])
    ...  # read and compute
    with outputs:
        write_raster(outputs.path(output_path), array, grid)
"""
from __future__ import annotations

import glob
import os
import uuid
from typing import Dict, Iterable, List, Optional, Tuple

from .errors import HsiInputError

GDAL_SIDECAR = ".aux.xml"  # GDAL's persistent auxiliary metadata (category names, statistics) beside a raster
_PARTIAL = "partial"


def resolved(path: str) -> str:
    """Absolute path with symlinks resolved; a GDAL/OGR source with ``|layername=...`` is cut at the ``|``."""
    return os.path.realpath(os.path.abspath(os.path.expanduser(path.split("|")[0])))


def _same_file(a: str, b: str) -> bool:
    if resolved(a) == resolved(b):
        return True
    try:
        return os.path.samefile(a, b)  # hard links
    except OSError:
        return False


def _hidden_name(destination: str, kind: str) -> str:
    """A hidden, unique name beside ``destination`` that keeps its extension (format detection by suffix)."""
    folder, name = os.path.split(os.path.abspath(destination))
    extension = os.path.splitext(name)[1]
    return os.path.join(folder, f".{name}.{uuid.uuid4().hex[:8]}.{kind}{extension}")


def _remove_with_companions(path: str) -> None:
    """Delete ``path`` and every file named ``path`` + suffix (GDAL's .aux.xml, .ovr, .msk); never raises."""
    for candidate in [path] + glob.glob(glob.escape(path) + "?*"):
        try:
            os.remove(candidate)
        except OSError:
            pass


class OutputSet:
    """A transaction over the files of one run; see the module docstring.

    ``destinations`` and ``inputs`` may contain ``None`` or empty entries (optional outputs and inputs that
    were not given); they are skipped.
    """

    def __init__(self, destinations: Iterable[Optional[str]], inputs: Iterable[Optional[str]] = ()) -> None:
        self._inputs = [path for path in inputs if path]
        self._temporary: Dict[str, str] = {}  # resolved destination -> temporary path
        self._destinations: Dict[str, str] = {}  # resolved destination -> destination as given
        self._scratch: List[str] = []
        self._entered = False
        for destination in destinations:
            if destination:
                self._declare(destination, again=False)

    # --- declaring -----------------------------------------------------------------------------------------
    def _declare(self, destination: str, again: bool = True) -> str:
        """Check ``destination`` and add it; ``again``: it may already be declared (its path asked twice)."""
        key = resolved(destination)
        if again and key in self._destinations:
            return key
        for source in self._inputs:
            if _same_file(destination, source):
                raise HsiInputError(
                    f"The output file '{destination}' is also an input of this run ('{source}'); writing it would "
                    "destroy the input. Choose another output file name"
                )
        for other in self._destinations.values():
            if _same_file(destination, other):
                raise HsiInputError(
                    f"Two outputs of this run name the same file '{destination}'; give each output its own name"
                )
        if os.path.isdir(destination):
            raise HsiInputError(f"The output '{destination}' is a folder; give a file name")
        folder = os.path.dirname(os.path.abspath(destination))
        if not os.path.isdir(folder):
            raise HsiInputError(f"Output folder '{folder}' does not exist")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise HsiInputError(f"Output folder '{folder}' is not writable; choose another output location")
        self._destinations[key] = destination
        return key

    def path(self, destination: str) -> str:
        """The temporary file to write ``destination`` to; committed to ``destination`` on success.

        A destination that was not declared when the set was made (a sidecar such as a ``.qml`` beside a
        raster, or a report's picture) is checked and declared now.
        """
        key = self._declare(destination)
        if key not in self._temporary:
            self._temporary[key] = _hidden_name(destination, _PARTIAL)
        return self._temporary[key]

    def scratch(self, near: str, suffix: str) -> str:
        """A hidden temporary file beside ``near`` ending in ``suffix``; removed when the run ends, in any case."""
        path = _hidden_name(os.path.splitext(near)[0] + suffix, "scratch")
        self._scratch.append(path)
        return path

    # --- ending -----------------------------------------------------------------------------------------------
    def _moves(self) -> Tuple[List[Tuple[str, str]], List[str]]:
        """(temporary -> final) moves, GDAL companion files included, and stale companions to remove."""
        moves, stale = [], []
        for key, temporary in self._temporary.items():
            destination = self._destinations[key]
            if not os.path.exists(temporary):
                continue  # declared but never written (e.g. an optional picture); the old file stays
            moves.append((temporary, destination))
            companions = {path[len(temporary):] for path in glob.glob(glob.escape(temporary) + "?*")}
            moves += [(temporary + suffix, destination + suffix) for suffix in sorted(companions)]
            if GDAL_SIDECAR not in companions and os.path.exists(destination + GDAL_SIDECAR):
                stale.append(destination + GDAL_SIDECAR)
        return moves, stale

    def commit(self) -> List[str]:
        """Move every written file into place; all or nothing. Returns the destinations written."""
        moves, stale = self._moves()
        backups: List[Tuple[str, str]] = []  # (backup, original) of files that were at the destinations
        installed: List[str] = []
        try:
            for target in [final for _, final in moves] + stale:
                if os.path.lexists(target):
                    backup = _hidden_name(target, "backup")
                    os.replace(target, backup)
                    backups.append((backup, target))
            for temporary, final in moves:
                os.replace(temporary, final)
                installed.append(final)
        except BaseException:
            for final in installed:
                _remove_quietly(final)
            for backup, original in backups:
                os.replace(backup, original)
            self.rollback()
            raise
        for backup, _ in backups:
            _remove_quietly(backup)
        self._remove_scratch()
        self._temporary.clear()
        return [final for _, final in moves]

    def rollback(self) -> None:
        """Remove every temporary and scratch file; the destinations stay as they were."""
        for temporary in self._temporary.values():
            _remove_with_companions(temporary)
        self._temporary.clear()
        self._remove_scratch()

    def _remove_scratch(self) -> None:
        for path in self._scratch:
            _remove_with_companions(path)
        self._scratch.clear()

    def __enter__(self) -> "OutputSet":
        if self._entered:
            raise RuntimeError("an OutputSet is one transaction: enter it once")
        self._entered = True
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.rollback()


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass
