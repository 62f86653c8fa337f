"""The stimulus files of an experiment's runs, made from its items and their events.

- A **visual** run (images) is a silent video: every image on a square canvas of the run's
  background colour (each scaled to fit, keeping its shape; images already of the canvas
  size keep their exact pixels), at :data:`~berg.stimulus.still.STILL_FPS` frames per
  second, losslessly (FFV1 in Matroska, as a single image's still video).
- An **auditory** run (sounds, spoken texts) is a 16 kHz mono WAV: silence, with each item's
  sound placed at its onset, to the sample.

Items are measured first (:func:`measure_items`): an image lasts the design's
``item_duration``, a sound its own length, a text the length of its synthesised speech.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from berg.errors import InvalidParameterError
from berg.experiments.design import Item, Run
from berg.stimulus.kinds import check_stimulus_file

__all__ = ["SAMPLE_RATE", "compose_run", "measure_items", "run_kind"]

SAMPLE_RATE = 16000
_CANVAS_LIMIT = 512  # the video model sees 256 x 256; larger canvases only cost time


def run_kind(kinds: Sequence[str]) -> str:
    """``'visual'`` (all images) or ``'auditory'`` (sounds and texts) for the items' kinds.

    Raises
    ------
    InvalidParameterError
        Videos (not composed into runs yet) or images mixed with sounds.
    """
    found = set(kinds)
    if "video" in found:
        raise InvalidParameterError(
            "video items are not composed into runs yet: use images (a visual run) or sounds "
            "and texts (an auditory run), or encode the videos one by one"
        )
    if found == {"image"}:
        return "visual"
    if found <= {"audio", "text"}:
        return "auditory"
    raise InvalidParameterError(
        "an experiment's items are all images (a visual run) or all sounds and texts (an "
        f"auditory run); these mix {', '.join(sorted(found))}"
    )


def measure_items(
    files: Mapping[str, Sequence[Path]],
    *,
    item_duration: float,
    cache_dir: str | os.PathLike,
    options=None,
) -> tuple[list[Item], str]:
    """Every file of every condition as an :class:`Item` with its duration.

    Parameters
    ----------
    files : mapping of str to sequence of Path
        Condition -> its files.
    item_duration : float
        Seconds an image lasts.
    cache_dir : path
        Where texts' synthesised speech is kept (berg's cache).
    options : StimulusOptions, optional
        How texts are spoken (``tts``, ``tts_options``, ``language``); default: Piper.

    Returns
    -------
    items : list of Item
    kind : {'visual', 'auditory'}
    """
    from berg.stimulus import media
    from berg.stimulus.timeline import StimulusOptions

    options = StimulusOptions() if options is None else options
    kinds = {path: check_stimulus_file(path)[1] for paths in files.values() for path in paths}
    kind = run_kind(list(kinds.values()))
    synthesizer = None
    items = []
    for condition, paths in files.items():
        for path in paths:
            if kinds[path] == "image":
                items.append(Item(condition, Path(path).name, Path(path), float(item_duration)))
                continue
            source = Path(path)
            if kinds[path] == "text":
                from berg.stimulus.speech import make_synthesizer, synthesize_text_file

                if synthesizer is None:  # one voice loaded for every text
                    synthesizer = make_synthesizer(options.tts, **options.tts_options)
                source = synthesize_text_file(
                    path, cache_dir, backend=synthesizer, language=options.language
                ).path
            info = media.probe(source)
            length = info.audio_duration or info.duration
            items.append(Item(condition, Path(path).name, source, float(length)))
    if synthesizer is not None and hasattr(synthesizer, "close"):
        synthesizer.close()
    return items, kind


def compose_run(
    run: Run,
    kind: str,
    target_dir: str | os.PathLike,
    *,
    background: tuple[int, int, int] = (128, 128, 128),
) -> Path:
    """Write the stimulus file of ``run``.

    Returns
    -------
    Path
        ``target_dir/run-NN.mkv`` (visual) or ``.wav`` (auditory), written atomically.
    """
    target_dir = Path(target_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    name = f"run-{run.index + 1:02d}"
    if kind == "visual":
        return _visual_run(run, target_dir / f"{name}.mkv", background)
    return _auditory_run(run, target_dir / f"{name}.wav")


def _canvas_size(items: Sequence[Item]) -> int:
    from PIL import Image

    largest = 0
    for item in items:
        with Image.open(item.source) as image:
            largest = max(largest, *image.size)
    return min(largest, _CANVAS_LIMIT) + (min(largest, _CANVAS_LIMIT) % 2)


def _on_canvas(frame: np.ndarray, side: int, background) -> np.ndarray:
    """``frame`` centred on a square canvas, scaled down (or up) to fit when it must."""
    from PIL import Image

    height, width = frame.shape[:2]
    if max(height, width) != side:
        scale = side / max(height, width)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        frame = np.asarray(Image.fromarray(frame).resize(size, Image.Resampling.LANCZOS))
        height, width = frame.shape[:2]
    canvas = np.empty((side, side, 3), np.uint8)
    canvas[:] = background
    top, left = (side - height) // 2, (side - width) // 2
    canvas[top : top + height, left : left + width] = frame
    return canvas


def _visual_run(run: Run, target: Path, background) -> Path:
    import av

    from berg.files import atomic_path
    from berg.stimulus.still import STILL_FPS, load_image

    side = _canvas_size(run.items)
    blank = np.empty((side, side, 3), np.uint8)
    blank[:] = background
    shown = {}  # frame index -> the canvas of the item on screen then
    for item, event in zip(run.items, run.events):
        canvas = _on_canvas(load_image(item.source), side, background)
        first = round(event.onset * STILL_FPS)
        for index in range(first, first + max(1, round(event.duration * STILL_FPS))):
            shown[index] = canvas
    n_frames = math.ceil(run.duration * STILL_FPS - 1e-9)
    with atomic_path(target) as temporary:
        with av.open(str(temporary), "w", format="matroska") as container:
            stream = container.add_stream("ffv1", rate=STILL_FPS)
            stream.width = stream.height = side
            stream.pix_fmt = "bgr0"
            for index in range(n_frames):
                picture = av.VideoFrame.from_ndarray(shown.get(index, blank), format="rgb24")
                picture.pts = index
                for packet in stream.encode(picture):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
    return target


def _auditory_run(run: Run, target: Path) -> Path:
    from berg.stimulus import media
    from berg.stimulus.speech.synthesizer import write_wav

    samples = np.zeros(math.ceil(run.duration * SAMPLE_RATE), np.float32)
    for item, event in zip(run.items, run.events):
        sound = media.read_audio(item.source, SAMPLE_RATE)
        first = round(event.onset * SAMPLE_RATE)
        end = min(len(samples), first + len(sound))
        samples[first:end] += sound[: end - first]
    pcm = np.clip(np.round(samples * 32767.0), -32768, 32767).astype(np.int16)
    write_wav(target, pcm, SAMPLE_RATE)
    return target
