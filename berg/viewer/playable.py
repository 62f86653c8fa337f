"""The stimulus as a browser plays it: MP4, WebM and common sound files as they are; any
other video (AVI, MKV, MOV...) converted once to WebM (VP9 and Opus) with PyAV."""

from __future__ import annotations

import mimetypes
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["PLAYABLE", "playable"]

#: Suffixes Chromium and Firefox play without help.
PLAYABLE = {".mp4", ".webm", ".wav", ".mp3", ".ogg", ".flac"}
_AUDIO_RATE = 48000  # Opus's


def playable(source: Path, folder: Path) -> tuple[Path, str]:
    """``(file, mime type)`` of ``source`` as a browser plays it; a converted copy goes in
    ``folder`` (a temporary folder of the caller's)."""
    if source.suffix.lower() in PLAYABLE:
        return source, mimetypes.guess_type(source.name)[0] or "video/mp4"
    return _to_webm(source, Path(folder) / f"{source.stem}.webm"), "video/webm"


def _to_webm(source: Path, target: Path) -> Path:
    import av

    from berg.media_writer import mux_mono_audio
    from berg.stimulus import media

    info = media.probe(source)
    fps = round(info.fps or 25)
    times = np.arange(int(np.ceil(info.duration * fps - 1e-9))) / fps
    size = (info.width - info.width % 2, info.height - info.height % 2)
    with av.open(str(target), "w", format="webm") as container:
        video = container.add_stream(
            "libvpx-vp9", rate=fps, options={"deadline": "realtime", "cpu-used": "8", "crf": "32"}
        )
        video.width, video.height, video.pix_fmt = *size, "yuv420p"
        audio = None
        if info.has_audio:
            audio = container.add_stream("libopus", rate=_AUDIO_RATE, layout="mono")
        for index, frame in media.read_frames(source, times, size=size):
            picture = av.VideoFrame.from_ndarray(np.asarray(frame), format="rgb24")
            picture.pts = index
            container.mux(video.encode(picture))
        container.mux(video.encode())
        if audio is not None:
            samples = media.read_audio(source, _AUDIO_RATE).astype(np.float32)
            mux_mono_audio(container, audio, samples, _AUDIO_RATE, block=960)
    return target


def temporary_folder():
    """A temporary folder for converted copies (removed when the context ends)."""
    return tempfile.TemporaryDirectory(prefix="berg-viewer-")
