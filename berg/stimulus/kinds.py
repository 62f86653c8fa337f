"""Which kind of stimulus a file is, from its extension, and the checks every file gets."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from berg.errors import StimulusError, did_you_mean
from berg.registry import MODALITIES

__all__ = [
    "KIND_MODALITIES",
    "STIMULUS_EXTENSIONS",
    "check_stimulus_file",
    "modalities_of",
    "not_a_regular_file",
]

#: File extension (lower case) -> stimulus kind. The kind decides the modalities used:
#: video -> video + audio + text, audio -> audio + text, text -> speech, then as audio,
#: image -> a silent still video (video only).
STIMULUS_EXTENSIONS: dict[str, str] = {
    ".mp4": "video",
    ".avi": "video",
    ".mkv": "video",
    ".mov": "video",
    ".webm": "video",
    ".wav": "audio",
    ".mp3": "audio",
    ".flac": "audio",
    ".ogg": "audio",
    ".txt": "text",
    ".png": "image",
    ".jpg": "image",
    ".jpeg": "image",
    ".bmp": "image",
    ".webp": "image",
    ".tif": "image",
    ".tiff": "image",
}


#: Stimulus kind -> the modalities (feature models) it can use, in the model's order.
KIND_MODALITIES: dict[str, tuple[str, ...]] = {
    "video": ("text", "audio", "video"),
    "audio": ("text", "audio"),
    "text": ("text", "audio"),
    "image": ("video",),
}


def modalities_of(kinds) -> tuple[str, ...]:
    """The modalities stimuli of these kinds can use, in the order text, audio, video.

    The speech recogniser is needed exactly when ``'audio'`` is among them (sounds, spoken
    texts and videos are transcribed; an image has no speech).
    """
    found = {m for kind in kinds for m in KIND_MODALITIES[kind]}
    return tuple(m for m in MODALITIES if m in found)


def check_stimulus_file(stimulus: object) -> tuple[Path, str]:
    """Check that ``stimulus`` names one readable, non-empty file of a supported kind.

    Parameters
    ----------
    stimulus : str or os.PathLike
        Path to a video, audio or text file. The extension is matched case-insensitively.

    Returns
    -------
    path : Path
        The absolute path.
    kind : {'video', 'audio', 'text'}

    Raises
    ------
    StimulusError
        Not a single path, missing, a directory, a FIFO, device or socket (refused without
        opening it: a FIFO would wait for a writer forever), empty, or an unsupported
        extension; the message names the file and lists the supported extensions.
    """
    if isinstance(stimulus, (list, tuple, set)):
        raise StimulusError(
            f"encode() takes exactly one stimulus file per call, got a {type(stimulus).__name__}"
            f" of {len(stimulus)}; call it once per file"
        )
    if not isinstance(stimulus, (str, os.PathLike)):
        raise StimulusError(
            f"the stimulus must be a file path (str or os.PathLike), got {type(stimulus).__name__}"
        )
    path = Path(stimulus).expanduser()
    if str(stimulus).strip() == "":
        raise StimulusError("the stimulus path is empty")
    if not path.exists():
        raise StimulusError(f"stimulus file {str(path)!r} does not exist")
    if path.is_dir():
        raise StimulusError(f"stimulus {str(path)!r} is a directory; give one file")
    supported = ", ".join(STIMULUS_EXTENSIONS)
    suffix = path.suffix.lower()
    if suffix not in STIMULUS_EXTENSIONS:
        hint = did_you_mean(suffix, STIMULUS_EXTENSIONS) if suffix else ""
        what = f"extension {path.suffix!r}" if suffix else "no extension"
        raise StimulusError(
            f"cannot tell the kind of stimulus {str(path)!r}: {what}{hint} (supported: {supported})"
        )
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise StimulusError(f"stimulus file {str(path)!r} cannot be read: {exc}") from exc
    if not stat.S_ISREG(mode):
        # Opening a FIFO waits for a writer forever; a device or socket is no stimulus.
        raise not_a_regular_file(path, mode)
    try:
        # Non-blocking, so that a FIFO put in the file's place since the check does not hang.
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        try:
            identity = os.fstat(descriptor)
        finally:
            os.close(descriptor)
    except OSError as exc:
        raise StimulusError(f"stimulus file {str(path)!r} cannot be read: {exc}") from exc
    if not stat.S_ISREG(identity.st_mode):
        raise not_a_regular_file(path, identity.st_mode)
    size = identity.st_size
    if size == 0:
        raise StimulusError(f"stimulus file {str(path)!r} is empty (0 bytes)")
    return path.resolve(), STIMULUS_EXTENSIONS[suffix]


def not_a_regular_file(path: Path, mode: int) -> StimulusError:
    """The error for a stimulus path that is a FIFO, a device or a socket (``mode`` from
    ``os.stat``), naming what it is."""
    return StimulusError(
        f"stimulus {str(path)!r} is a {_special_kind(mode)}, not a regular file; give a "
        "video, audio or text file"
    )


def _special_kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "named pipe (FIFO)"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISSOCK, "socket"),
    ):
        if test(mode):
            return name
    return "special file"
