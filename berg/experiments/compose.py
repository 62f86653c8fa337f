"""The stimulus files of an experiment's runs, made from its items and their events.

- A **visual** run (images) is a silent video: each image on a square canvas of the run's
  background colour for its duration, at :data:`~berg.stimulus.still.STILL_FPS` frames per
  second (images already of the canvas size keep their exact pixels).
- An **audiovisual** run (videos, or images with sounds) is a video at 16 frames per second
  with each video's frames and each image at its onset, and a sound track with each item's
  sound at its onset (:mod:`berg.experiments.video_runs`).
- An **auditory** run (sounds, spoken texts) is a 16 kHz mono WAV: silence, with each item's
  sound placed at its onset, to the sample.

Items are measured first (:func:`measure_items`): an image lasts the design's
``item_duration``, a video or a sound its own length, a text the length of its synthesised
speech. Texts are spoken, and the run is then transcribed like any sound.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from berg.experiments.design import Item, Run
from berg.experiments.video_runs import (
    AUDIO_RATE,
    VIDEO_RUN_FPS,
    pcm16,
    placed_sound,
    write_run_video,
)
from berg.stimulus.kinds import check_stimulus_file

__all__ = ["compose_run", "frame_period", "measure_items", "run_kind"]


def run_kind(kinds: Sequence[str]) -> str:
    """The kind of run the items' kinds make: ``'visual'`` (images only), ``'auditory'``
    (sounds and texts only) or ``'audiovisual'`` (videos, or images with sounds)."""
    found = set(kinds)
    if found == {"image"}:
        return "visual"
    if found <= {"audio", "text"}:
        return "auditory"
    return "audiovisual"


def frame_period(kind: str) -> float | None:
    """Seconds between a run's frames (onsets go on this grid); None for a sound."""
    from berg.stimulus.still import STILL_FPS

    return {"visual": 1.0 / STILL_FPS, "audiovisual": 1.0 / VIDEO_RUN_FPS}.get(kind)


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
    try:  # the voice is released even when a file fails to speak or probe
        for condition, paths in files.items():
            for path in paths:
                name = Path(path).name
                if kinds[path] == "image":
                    items.append(Item(condition, name, Path(path), float(item_duration)))
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
                if info.has_video:
                    length = info.video_duration or info.duration
                    items.append(
                        Item(condition, name, source, float(length), "video", info.has_audio)
                    )
                else:
                    length = info.audio_duration or info.duration
                    items.append(Item(condition, name, source, float(length), "audio", True))
    finally:
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
        ``target_dir/run-NN.mkv`` (visual, audiovisual) or ``.wav`` (auditory), written
        atomically.
    """
    from berg.stimulus.still import STILL_FPS

    target_dir = Path(target_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    name = f"run-{run.index + 1:02d}"
    if kind == "auditory":
        return _auditory_run(run, target_dir / f"{name}.wav")
    fps = STILL_FPS if kind == "visual" else VIDEO_RUN_FPS
    return write_run_video(run, target_dir / f"{name}.mkv", fps=fps, background=background)


def _auditory_run(run: Run, target: Path) -> Path:
    from berg.stimulus.speech.synthesizer import write_wav

    write_wav(target, pcm16(placed_sound(run)), AUDIO_RATE)
    return target
