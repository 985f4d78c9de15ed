"""Errors ieforge raises on purpose. Each carries a one-line message meant for a person."""

from __future__ import annotations


class IEForgeError(Exception):
    """Base class: anything ieforge reports as a clear, single-line error."""


class ModelNotFoundError(IEForgeError):
    """The model name is neither a catalogue entry, a local file/dir, nor a loadable hub id."""


class ModelNotInstalledError(IEForgeError):
    """A catalogue model whose PyPI package(s) are not installed."""


class ChecksumError(IEForgeError):
    """A weight file's sha256 does not match the catalogue."""


class ModelLoadError(IEForgeError):
    """The backend library could not load the model."""


class InputError(IEForgeError, ValueError):
    """A malformed input file or argument (the message names file and line). It is also a
    :class:`ValueError`, so code that catches the bad arguments it passed as ``ValueError`` keeps working."""


class RequestError(IEForgeError):
    """A model server did not answer, even after retries (the message names the server and the cause)."""
