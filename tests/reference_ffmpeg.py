"""The reference's own FFmpeg command lines, run with the ``ffmpeg`` program moviepy uses
(imageio-ffmpeg's), as independent expectations for berg's decoding."""

from __future__ import annotations

import subprocess

import numpy as np

__all__ = ["ffmpeg_pcm16", "ffmpeg_rgb_frames", "moviepy_wav"]


def _ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg_pcm16(path, rate: int = 44100, channels: int = 2) -> np.ndarray:
    """What moviepy 2's audio reader reads from a file: ``ffmpeg -i PATH -vn -loglevel error
    -f s16le -acodec pcm_s16le -ar RATE -ac CHANNELS -``, as int16 ``(channels, n)``."""
    out = subprocess.run(
        [
            _ffmpeg(),
            "-i",
            str(path),
            "-vn",
            "-loglevel",
            "error",
            "-f",
            "s16le",
            "-acodec",
            "pcm_s16le",
            "-ar",
            str(rate),
            "-ac",
            str(channels),
            "-",
        ],
        capture_output=True,
        check=True,
        timeout=300,
    ).stdout
    return np.frombuffer(out, np.int16).reshape(-1, channels).T


def moviepy_wav(path, length: int, rate: int = 44100) -> np.ndarray:
    """The WAV the reference extracts from a video (``AudioClip.write_audiofile``), as
    soundfile reads it back: float ``(2, length)``.

    moviepy reads the samples above as ``int / 32768`` (zeros past the end of the pipe), and
    its writer quantises them with ``(32768 * clip(x, -0.99, 0.99)).astype(int16)``.
    """
    samples = ffmpeg_pcm16(path, rate, 2)[:, :length] / 32768.0
    samples = np.pad(samples, ((0, 0), (0, length - samples.shape[1])))
    quantised = (32768 * np.maximum(-0.99, np.minimum(0.99, samples))).astype(np.int16)
    return quantised / 32768.0


def ffmpeg_rgb_frames(path, width: int, height: int) -> np.ndarray:
    """Every frame as moviepy 2's video reader gets it from a pipe (``-f image2pipe -vf
    scale=W:H -sws_flags bicubic -pix_fmt rgb24 -vcodec rawvideo``): uint8 ``(n, H, W, 3)``."""
    out = subprocess.run(
        [
            _ffmpeg(),
            "-i",
            str(path),
            "-loglevel",
            "error",
            "-f",
            "image2pipe",
            "-vf",
            f"scale={width}:{height}",
            "-sws_flags",
            "bicubic",
            "-pix_fmt",
            "rgb24",
            "-vcodec",
            "rawvideo",
            "-",
        ],
        capture_output=True,
        check=True,
        timeout=300,
    ).stdout
    return np.frombuffer(out, np.uint8).reshape(-1, height, width, 3)
