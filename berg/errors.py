"""One exception hierarchy for everything berg raises on purpose.

Every message names the bad value and what would have been valid; where a valid value is
close to the bad one, it is suggested ("unknown ROI 'V7a'; did you mean 'V7'?"). Each class
also derives from the matching built-in exception, so ``except ValueError`` keeps working in
code that does not know about berg.
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Iterable, Iterator

__all__ = [
    "BERGError",
    "ModelNotFoundError",
    "InvalidParameterError",
    "DeviceNotAvailableError",
    "StimulusError",
    "ModelLoadError",
    "MetadataError",
    "MissingDependencyError",
    "ResultWriteError",
    "FeatureCacheError",
    "did_you_mean",
    "format_choices",
    "naming",
]


class BERGError(Exception):
    """Base class of every error berg raises on purpose."""


class ModelNotFoundError(BERGError, LookupError):
    """The model id is not one berg knows."""


class InvalidParameterError(BERGError, ValueError):
    """An argument has the wrong type, shape or value."""


class DeviceNotAvailableError(InvalidParameterError):
    """The requested device exists as a name but not on this machine (e.g. 'cuda' without a GPU)."""


class StimulusError(BERGError, ValueError):
    """The stimulus file is missing, unreadable, of an unsupported kind or unusable."""


class ModelLoadError(BERGError, RuntimeError):
    """Weights or configuration could not be found, downloaded or loaded."""


class MetadataError(ModelLoadError):
    """A model's metadata file in the BERG folder cannot be read safely, holds no metadata
    dictionary, or disagrees with berg's own metadata; the message names the file and what
    was wrong."""


class ResultWriteError(BERGError, OSError):
    """A result could not be written (a full disk, a folder that cannot be written); the
    message names the folder and, for a full disk, the space the result needed. Nothing of
    the new result is left behind, and an earlier one is intact."""


class FeatureCacheError(BERGError, OSError):
    """Features an encode had written to the cache, and reads back from it window by window,
    are gone or damaged there (another process cleared the cache meanwhile); encoding again
    computes them anew."""


class MissingDependencyError(BERGError, ImportError):
    """An optional part of berg was asked for but its package (or program, or spaCy
    pipeline) is not installed, or is too old; the message says what to install."""


def did_you_mean(value: object, choices: Iterable[str]) -> str:
    """Return ``"; did you mean 'X'?"`` for the closest choice, or ``""`` if none is close.

    Matching ignores case first (``'v1'`` -> ``'V1'``), then falls back to difflib's
    similarity ratio, so a typo in a long name is still found.
    """
    text = str(value)
    choices = list(choices)
    by_lower = {c.lower(): c for c in choices}
    if text.lower() in by_lower and by_lower[text.lower()] != text:
        return f"; did you mean {by_lower[text.lower()]!r}?"
    close = difflib.get_close_matches(text, choices, n=1, cutoff=0.6)
    if not close:
        close_lower = difflib.get_close_matches(text.lower(), list(by_lower), n=1, cutoff=0.6)
        close = [by_lower[c] for c in close_lower]
    return f"; did you mean {close[0]!r}?" if close else ""


def format_choices(choices: Iterable[str], limit: int = 12) -> str:
    """Quote and join choices for a message, eliding the middle of long lists."""
    quoted = [repr(c) for c in choices]
    if len(quoted) <= limit:
        return ", ".join(quoted)
    head = ", ".join(quoted[: limit - 2])
    return f"{head}, ... ({len(quoted) - limit + 1} more), {quoted[-1]}"


@contextlib.contextmanager
def naming(subject: str, mentions: str | None = None) -> Iterator[None]:
    """Make every berg error raised in the block name ``subject`` (a stimulus file...).

    An error whose message already holds ``mentions`` (default: ``subject``; e.g. the file's
    path) passes as it is; any other is raised again, of the same class, as
    ``"{subject}: {message}"`` (the original as its cause).
    """
    try:
        yield
    except BERGError as error:
        if (mentions or subject) in str(error):
            raise
        raise type(error)(f"{subject}: {error}") from error
