"""The video of a run with images or videos: every item on one canvas, in time.

A run's video holds each image for its duration and each video's frames as they are on
screen, placed at the item's onset on one canvas (the run's background colour elsewhere),
written losslessly (H.264 in RGB at qp 0, or FFV1 where that encoder is missing: the same
pixels back, and still frames cost almost nothing). Its sound track, when an item has sound,
is 16 kHz mono FLAC with each item's sound placed at its onset, to the sample.

The frame rate is :data:`STILL_FPS` for a run of images (every frame still) and
:data:`VIDEO_RUN_FPS` with videos: 16 frames per second is every frame V-JEPA 2's clips
sample (64 frames over 4 s), so on the grid of onsets a video item gives the video model
the frames it would sample from the item itself.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from berg.experiments.design import Item, Run

__all__ = [
    "AUDIO_RATE",
    "VIDEO_RUN_FPS",
    "canvas_size",
    "pcm16",
    "placed_sound",
    "write_run_video",
]

VIDEO_RUN_FPS = 16
AUDIO_RATE = 16000
_SHORT_SIDE_LIMIT = 360  # the video model sees 256 x 256 (after a resize to 292)
_SQUARE_LIMIT = 512


def _even(value: float) -> int:
    return max(2, int(round(value)) // 2 * 2)


def canvas_size(items: Sequence[Item]) -> tuple[int, int]:
    """(width, height) of a run's frames: the largest video's shape (its short side at most
    360 pixels), else a square as large as the largest image (at most 512)."""
    from PIL import Image

    from berg.stimulus import media

    videos = [media.probe(i.source) for i in items if i.kind == "video"]
    if videos:
        largest = max(videos, key=lambda info: info.width * info.height)
        scale = min(1.0, _SHORT_SIDE_LIMIT / min(largest.width, largest.height))
        return _even(largest.width * scale), _even(largest.height * scale)
    side = 0
    for item in items:
        with Image.open(item.source) as image:
            side = max(side, *image.size)
    side = _even(min(side, _SQUARE_LIMIT))
    return side, side


def _fitted(width: int, height: int, canvas: tuple[int, int]) -> tuple[int, int]:
    """The size of a ``width x height`` picture scaled to fit the canvas, keeping its shape
    (unchanged when it is the canvas's size)."""
    if (width, height) == canvas:
        return canvas
    scale = min(canvas[0] / width, canvas[1] / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _on_canvas(frame: np.ndarray, canvas: tuple[int, int], background) -> np.ndarray:
    """``frame`` (scaled to fit when it is not of the canvas's size) centred on the canvas."""
    from PIL import Image

    height, width = frame.shape[:2]
    size = _fitted(width, height, canvas)
    if size != (width, height):
        frame = np.asarray(Image.fromarray(frame).resize(size, Image.Resampling.LANCZOS))
    out = np.empty((canvas[1], canvas[0], 3), np.uint8)
    out[:] = background
    top, left = (canvas[1] - size[1]) // 2, (canvas[0] - size[0]) // 2
    out[top : top + size[1], left : left + size[0]] = frame
    return out


def _item_frames(item: Item, n_frames: int, fps: float, canvas, background) -> Iterator:
    """The item's ``n_frames`` canvases at ``fps`` from its start."""
    if item.kind == "image":
        from berg.stimulus.still import load_image

        still = _on_canvas(load_image(item.source), canvas, background)
        for _ in range(n_frames):
            yield still
        return
    from berg.stimulus import media

    info = media.probe(item.source)
    size = _fitted(info.width, info.height, canvas)
    times = np.arange(n_frames) / fps
    shown, last = None, None
    for _, frame in media.read_frames(item.source, times, size=size):
        if frame is not last:  # the same frame on screen: the same canvas
            shown, last = _on_canvas(np.asarray(frame), canvas, background), frame
        yield shown


def _frames(run: Run, fps: float, canvas, background) -> Iterator[np.ndarray]:
    """Every frame of the run, in order: blank, or the item on screen."""
    blank = np.empty((canvas[1], canvas[0], 3), np.uint8)
    blank[:] = background
    n_frames = math.ceil(run.duration * fps - 1e-9)
    index = 0
    for item, event in zip(run.items, run.events):
        if item.kind not in ("image", "video"):
            continue  # a sound: the screen stays blank
        first = round(event.onset * fps)
        count = max(1, math.ceil(event.duration * fps - 1e-9))
        for _ in range(index, first):
            yield blank
        yield from _item_frames(item, count, fps, canvas, background)
        index = first + count
    for _ in range(index, n_frames):
        yield blank


def placed_sound(run: Run) -> np.ndarray | None:
    """float32 (n_samples,) at :data:`AUDIO_RATE`: silence with each item's sound at its
    onset, to the sample; None when no item of the run has sound."""
    from berg.stimulus import media

    sounding = [(i, e) for i, e in zip(run.items, run.events) if i.has_audio]
    if not sounding:
        return None
    samples = np.zeros(math.ceil(run.duration * AUDIO_RATE), np.float32)
    for item, event in sounding:
        sound = media.read_audio(item.source, AUDIO_RATE)
        first = round(event.onset * AUDIO_RATE)
        end = min(len(samples), first + len(sound))
        samples[first:end] += sound[: end - first]
    return samples


def pcm16(samples: np.ndarray) -> np.ndarray:
    """float samples in [-1, 1] -> int16 (rounded, clipped), as WAV and FLAC store them."""
    return np.clip(np.round(samples * 32767.0), -32768, 32767).astype(np.int16)


def _video_stream(container, fps: int, canvas):
    import av

    try:
        stream = container.add_stream("libx264rgb", rate=fps, options={"qp": "0"})
        stream.pix_fmt = "rgb24"
    except (av.error.FFmpegError, ValueError):  # an FFmpeg built without x264
        stream = container.add_stream("ffv1", rate=fps)
        stream.pix_fmt = "bgr0"
    stream.width, stream.height = canvas
    return stream


def write_run_video(run: Run, target: Path, *, fps: int, background) -> Path:
    """Write the run's video (and its sound, when an item has sound) to ``target`` (.mkv),
    atomically."""
    import av

    from berg.files import atomic_path
    from berg.media_writer import mux_mono_audio

    canvas = canvas_size(run.items)
    sound = placed_sound(run)
    with atomic_path(target) as temporary:
        with av.open(str(temporary), "w", format="matroska") as container:
            video = _video_stream(container, fps, canvas)
            audio = None
            if sound is not None:
                audio = container.add_stream("flac", rate=AUDIO_RATE, layout="mono")
            for index, frame in enumerate(_frames(run, fps, canvas, background)):
                picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
                picture.pts = index
                container.mux(video.encode(picture))
            container.mux(video.encode())
            if audio is not None:
                mux_mono_audio(container, audio, pcm16(sound), AUDIO_RATE, block=AUDIO_RATE)
    return target
