"""Exceptions raised by core/ and methods/; the processing layer turns them into QgsProcessingException."""


class HsiError(Exception):
    """Base class: every message is written for the end user."""


class HsiInputError(HsiError, ValueError):
    """A bad input: missing file, wrong band count, mismatched grids, invalid parameter value."""


class HsiCancelled(HsiError):
    """The user cancelled the run; no output file is left behind."""
