"""Generated stimuli for the benchmarks: speech videos and texts of any length.

- video: 1280 x 720 H.264 at 24 fps (moving bars; x264 ``ultrafast`` so that making a
  10-minute one takes under a minute) with a 44.1 kHz stereo AAC track of continuous speech,
  as a film or a lecture recording has;
- text: a ``.txt`` of as many words as are spoken in that time (2.6 words per second).

The speech is Piper's offline US-English voice reading a generated transcript (sentences of
the benchmark vocabulary, see ``bench_text_features.make_transcript``), so the recogniser
finds real words and the text model reads real contexts. Files are cached by kind and
length in the folder given.

- film (``film``): the same video, of any length up to hours, written piece by piece in
  bounded memory: Piper speaks ``FILM_PIECE_S`` (5 minutes) of transcript at a time, each
  piece its own seed, and each piece is resampled and encoded into the AAC stream as it
  comes (the next piece spoken while this one is encoded), the frames encoded as they go;
  nothing of the whole film is held.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path

import numpy as np

WIDTH, HEIGHT, FPS = 1280, 720, 24
AUDIO_RATE = 44100
WORDS_PER_SECOND = 2.6  # Piper's "joe" voice, measured on the benchmark's transcripts
FILM_PIECE_S = 300.0  # seconds of speech synthesised (and held) at a time in a film
FILM_SEED = 1000  # a film's piece k speaks the transcript of seed FILM_SEED + k


def transcript(seconds: float, seed: int = 0) -> str:
    """Generated sentences, about ``seconds`` of speech."""
    from bench_text_features import make_transcript

    return " ".join(make_transcript(max(8, round(WORDS_PER_SECOND * seconds)), seed=seed))


def speech(seconds: float, seed: int = 0, synthesizer=None) -> np.ndarray:
    """Float32 mono speech at ``AUDIO_RATE``, exactly ``seconds`` long (silence-padded): the
    transcript of ``seed`` (``synthesizer``: a Piper synthesizer to reuse, its voice loaded
    once; default a new one)."""
    import tempfile

    from berg.stimulus import media

    if synthesizer is None:
        from berg.stimulus.speech import PiperSynthesizer

        synthesizer = PiperSynthesizer()
    with tempfile.TemporaryDirectory(prefix="berg-bench-speech-") as tmp:
        wav = Path(tmp) / "speech.wav"
        synthesizer.synthesize(transcript(seconds * 1.15, seed), wav, language="en")
        samples = media.read_audio(wav, AUDIO_RATE)
    out = np.zeros(round(seconds * AUDIO_RATE), np.float32)
    n = min(len(out), len(samples))
    out[:n] = samples[:n]
    return out


def write_video(path: Path, seconds: float, audio: np.ndarray | None) -> Path:
    """The benchmark video (see the module notes), written atomically."""
    pieces = None if audio is None else [audio]
    return _write_video(path, seconds, pieces, None if audio is None else len(audio))


def _write_video(
    path: Path, seconds: float, pieces: Iterable[np.ndarray] | None, n_samples: int | None
) -> Path:
    """The benchmark video with the sound of ``pieces`` (float32 mono at ``AUDIO_RATE``, one
    after the other, ``n_samples`` in all; taken one at a time as the frames reach them),
    written atomically: a temporary file, then renamed."""
    import av

    tmp = path.with_suffix(".tmp" + path.suffix)
    luma = np.full((HEIGHT, WIDTH), 60, np.uint8)
    chroma = np.full((HEIGHT // 2, WIDTH), 128, np.uint8)  # U and V planes, stacked
    with av.open(str(tmp), "w") as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        video.options = {"preset": "ultrafast", "crf": "28"}
        sound = None
        if pieces is not None:
            sound = container.add_stream("aac", rate=AUDIO_RATE, layout="stereo")
            feed = _Blocks(iter(pieces), 1024)
        sent = 0
        for k in range(round(seconds * FPS)):
            x, y = (8 * k) % (WIDTH - 64), (5 * k) % (HEIGHT - 64)
            luma[:, x : x + 64] = 200
            luma[y : y + 64, :] = 130
            frame = av.VideoFrame.from_ndarray(np.vstack([luma, chroma]), format="yuv420p")
            luma[:, x : x + 64] = 60
            luma[y : y + 64, :] = 60
            frame.pts, frame.time_base = k, Fraction(1, FPS)
            for packet in video.encode(frame):
                container.mux(packet)
            while sound is not None and sent < min((k + 1) / FPS * AUDIO_RATE, n_samples):
                stereo = feed.next_block()
                if stereo is None:
                    break
                block = av.AudioFrame.from_ndarray(stereo, format="fltp", layout="stereo")
                block.sample_rate, block.pts = AUDIO_RATE, sent
                for packet in sound.encode(block):
                    container.mux(packet)
                sent += stereo.shape[1]
        for packet in video.encode(None):
            container.mux(packet)
        if sound is not None:
            for packet in sound.encode(None):
                container.mux(packet)
    tmp.replace(path)
    return path


class _Blocks:
    """Stereo blocks of ``step`` samples from mono pieces taken one at a time (the last
    block may be shorter): only the piece being encoded is held."""

    def __init__(self, pieces: Iterator[np.ndarray], step: int):
        self._pieces, self._step = pieces, step
        self._held = np.zeros(0, np.float32)
        self._at = 0

    def next_block(self) -> np.ndarray | None:
        while len(self._held) - self._at < self._step:
            piece = next(self._pieces, None)
            if piece is None:
                break
            self._held = np.concatenate([self._held[self._at :], piece.astype(np.float32)])
            self._at = 0
        mono = self._held[self._at : self._at + self._step]
        if not len(mono):
            return None
        self._at += len(mono)
        return np.ascontiguousarray(np.stack([mono, mono]))


def film_pieces(seconds: float) -> list[float]:
    """The lengths of a film's speech pieces: ``FILM_PIECE_S`` each, the last one shorter."""
    n = max(1, math.ceil(seconds / FILM_PIECE_S - 1e-9))
    return [min(FILM_PIECE_S, seconds - k * FILM_PIECE_S) for k in range(n)]


def film_path(seconds: float, folder: Path) -> Path:
    """Where `film` keeps the film of ``seconds`` in ``folder``."""
    return Path(folder) / f"speech_film_{WIDTH}x{HEIGHT}_{seconds:g}s.mp4"


def film(seconds: float, folder: Path, log=None) -> Path:
    """A film of ``seconds`` with continuous speech (the benchmark video, see the module
    notes), written piece by piece in bounded memory and cached by length in ``folder``.

    Piece ``k`` (``FILM_PIECE_S`` of sound) is Piper reading the transcript of seed
    ``FILM_SEED + k``, cut to the piece's length (a word may be cut at a joint, once every
    5 minutes); it is spoken (in a thread) while the piece before it is encoded and dropped
    once encoded itself, so the memory is that of two pieces (~60 MB of samples each, ~600 MB
    peak RSS for the whole process, measured at 10 minutes) whatever the length. ``log``
    (e.g. ``print``) is told as each piece starts.
    """
    from berg.stimulus.speech import PiperSynthesizer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = film_path(seconds, folder)
    if path.exists():
        return path
    lengths = film_pieces(seconds)
    synthesizer = PiperSynthesizer()

    def piece(k: int) -> np.ndarray:
        if log is not None:
            log(f"  piece {k + 1}/{len(lengths)}: {lengths[k]:g} s of speech")
        return speech(lengths[k], seed=FILM_SEED + k, synthesizer=synthesizer)

    def pieces() -> Iterator[np.ndarray]:
        # The next piece is spoken (in a thread) while this one's frames are encoded.
        with ThreadPoolExecutor(1) as pool:
            coming = pool.submit(piece, 0)
            for k in range(len(lengths)):
                done = coming.result()
                if k + 1 < len(lengths):
                    coming = pool.submit(piece, k + 1)
                yield done
                del done

    n_samples = sum(round(length * AUDIO_RATE) for length in lengths)
    return _write_video(path, seconds, pieces(), n_samples)


def stimulus(kind: str, seconds: float, folder: Path) -> Path:
    """A ``video`` (.mp4 with speech) or ``text`` (.txt) stimulus of ``seconds``, cached."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if kind == "video":
        path = folder / f"speech_video_{WIDTH}x{HEIGHT}_{seconds:g}s.mp4"
        if not path.exists():
            write_video(path, seconds, speech(seconds))
        return path
    if kind == "text":
        path = folder / f"text_{seconds:g}s.txt"
        if not path.exists():
            path.write_text(transcript(seconds, seed=7) + "\n", encoding="utf-8")
        return path
    raise ValueError(f"kind must be 'video' or 'text', got {kind!r}")


def transcribe_once(path: Path, whisper_model: str) -> Path:
    """The words of a stimulus's speech, recognised once (berg's faster-whisper recogniser,
    its defaults), as ``<stimulus>.words.json`` beside it: for runs where the recogniser
    cannot be had (a GPU machine without CTranslate2 or the Whisper model), see
    ``bench_pipeline.py --replay-asr``."""
    import json

    from berg.stimulus import media
    from berg.stimulus.transcribe import FasterWhisperTranscriber

    if path.suffix == ".txt":
        raise ValueError(
            "transcribe_once takes a video or a sound file; a text's speech is "
            "synthesised in each run"
        )
    out = Path(str(path) + ".words.json")
    if not out.exists():
        transcript = FasterWhisperTranscriber(whisper_model, device="cpu").transcribe(
            media.read_audio(path, 16000), 16000
        )
        tmp = out.with_suffix(".tmp")
        tmp.write_text(
            json.dumps(
                {
                    "language": transcript.language,
                    "model": transcript.model,
                    "words": [[w.text, w.start, w.end] for w in transcript.words],
                }
            )
        )
        tmp.replace(out)
    return out
