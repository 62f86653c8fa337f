"""Generated stimuli for the benchmarks: speech videos and texts of any length.

- video: 1280 x 720 H.264 at 24 fps (moving bars; x264 ``ultrafast`` so that making a
  10-minute one takes under a minute) with a 44.1 kHz stereo AAC track of continuous speech,
  as a film or a lecture recording has;
- text: a ``.txt`` of as many words as are spoken in that time (2.6 words per second).

The speech is Piper's offline US-English voice reading a generated transcript (sentences of
the benchmark vocabulary, see ``bench_text_features.make_transcript``), so the recogniser
finds real words and the text model reads real contexts. Files are cached by kind and
length in the folder given.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

WIDTH, HEIGHT, FPS = 1280, 720, 24
AUDIO_RATE = 44100
WORDS_PER_SECOND = 2.6  # Piper's "joe" voice, measured on the benchmark's transcripts


def transcript(seconds: float, seed: int = 0) -> str:
    """Generated sentences, about ``seconds`` of speech."""
    from bench_text_features import make_transcript

    return " ".join(make_transcript(max(8, round(WORDS_PER_SECOND * seconds)), seed=seed))


def speech(seconds: float, seed: int = 0) -> np.ndarray:
    """Float32 mono speech at ``AUDIO_RATE``, exactly ``seconds`` long (silence-padded): the
    transcript of ``seed``."""
    import tempfile

    from berg.stimulus import media
    from berg.stimulus.speech import PiperSynthesizer

    with tempfile.TemporaryDirectory(prefix="berg-bench-speech-") as tmp:
        wav = Path(tmp) / "speech.wav"
        PiperSynthesizer().synthesize(transcript(seconds * 1.15, seed), wav, language="en")
        samples = media.read_audio(wav, AUDIO_RATE)
    out = np.zeros(round(seconds * AUDIO_RATE), np.float32)
    n = min(len(out), len(samples))
    out[:n] = samples[:n]
    return out


def write_video(path: Path, seconds: float, audio: np.ndarray | None) -> Path:
    """The benchmark video (see the module notes), written atomically."""
    import av

    tmp = path.with_suffix(".tmp" + path.suffix)
    luma = np.full((HEIGHT, WIDTH), 60, np.uint8)
    chroma = np.full((HEIGHT // 2, WIDTH), 128, np.uint8)  # U and V planes, stacked
    with av.open(str(tmp), "w") as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        video.options = {"preset": "ultrafast", "crf": "28"}
        sound = None
        if audio is not None:
            sound = container.add_stream("aac", rate=AUDIO_RATE, layout="stereo")
        stereo = None if audio is None else np.ascontiguousarray(np.stack([audio, audio]))
        sent = 0
        step = 1024
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
            while sound is not None and sent < min((k + 1) / FPS * AUDIO_RATE, len(audio)):
                block = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(stereo[:, sent : sent + step]),
                    format="fltp",
                    layout="stereo",
                )
                block.sample_rate, block.pts = AUDIO_RATE, sent
                for packet in sound.encode(block):
                    container.mux(packet)
                sent += step
        for packet in video.encode(None):
            container.mux(packet)
        if sound is not None:
            for packet in sound.encode(None):
                container.mux(packet)
    tmp.replace(path)
    return path


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
