"""Real media files made at test time with PyAV, small enough to encode in milliseconds.

Each video frame carries its own index as a 12-bit code of big black and white blocks (4 across,
3 down, bit 0 top left), which survives any codec's compression and rescaling, so a test can
tell which frame it got with :func:`frame_code`.
"""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

__all__ = [
    "make_video",
    "make_audio",
    "tone",
    "frame_image",
    "frame_code",
    "speech_with_pauses",
    "aligned_words",
    "CODE_BITS",
]

CODE_BITS = 12
_GRID = (3, 4)  # rows, columns of code blocks
_DARK, _LIGHT = 16, 235

#: Extension -> (video codec, audio codec) of the files make_video writes.
VIDEO_CODECS = {
    ".mp4": ("libx264", "aac"),
    ".mov": ("libx264", "aac"),
    ".mkv": ("libx264", "aac"),
    ".webm": ("libvpx-vp9", "libopus"),
    ".avi": ("mpeg4", "libmp3lame"),
}
#: Extension -> audio codec of the files make_audio writes.
AUDIO_CODECS = {".wav": "pcm_s16le", ".mp3": "libmp3lame", ".flac": "flac", ".ogg": "vorbis"}

# Fast settings: these files only need to be decodable, not pretty.
_VIDEO_OPTIONS = {
    "libx264": {"preset": "ultrafast"},
    "libvpx-vp9": {"deadline": "realtime", "cpu-used": "8"},
}


def tone(freq: float, duration: float, rate: int = 16000, amplitude: float = 0.5) -> np.ndarray:
    """A sine of ``freq`` Hz: float32, shape ``(round(duration * rate),)``."""
    t = np.arange(round(duration * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def frame_image(k: int, size: tuple[int, int] = (160, 120)) -> np.ndarray:
    """The RGB picture of frame ``k``: uint8 ``(height, width, 3)`` showing ``k``'s code."""
    width, height = size
    rows, cols = _GRID
    image = np.full((height, width, 3), _DARK, np.uint8)
    for bit in range(CODE_BITS):
        if (k >> bit) & 1:
            r, c = divmod(bit, cols)
            image[
                r * height // rows : (r + 1) * height // rows,
                c * width // cols : (c + 1) * width // cols,
            ] = _LIGHT
    return image


def frame_code(rgb: np.ndarray) -> int:
    """Read back the index ``k`` that :func:`frame_image` drew, from any size of frame."""
    height, width = rgb.shape[:2]
    rows, cols = _GRID
    k = 0
    for bit in range(CODE_BITS):
        r, c = divmod(bit, cols)
        y0, y1 = r * height // rows, (r + 1) * height // rows
        x0, x1 = c * width // cols, (c + 1) * width // cols
        # The middle half of the block, away from edges the codec smears.
        dy, dx = (y1 - y0) // 4, (x1 - x0) // 4
        if rgb[y0 + dy : y1 - dy, x0 + dx : x1 - dx].mean() > 128:
            k |= 1 << bit
    return k


def _as_channels(samples: np.ndarray) -> np.ndarray:
    samples = np.asarray(samples, dtype=np.float32)
    return samples[None] if samples.ndim == 1 else samples


def _audio_frame(block: np.ndarray, fmt: str, layout: str, rate: int, pts: int) -> av.AudioFrame:
    """A float ``(channels, n)`` block as an AudioFrame in the encoder's sample format."""
    fmt_obj = av.AudioFormat(fmt)
    if fmt_obj.name.startswith("s16"):
        data = np.round(np.clip(block, -1, 1) * 32767).astype(np.int16)
    elif fmt_obj.name.startswith("s32"):
        data = np.round(np.clip(block.astype(np.float64), -1, 1) * (2**31 - 1)).astype(np.int32)
    else:
        data = block.astype(np.float32)
    if not fmt_obj.is_planar:
        data = data.T.reshape(1, -1)
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(data), format=fmt, layout=layout)
    frame.sample_rate, frame.pts, frame.time_base = rate, pts, Fraction(1, rate)
    return frame


def _encode_audio(container, codec: str, samples: np.ndarray, rate: int) -> list[av.Packet]:
    samples = _as_channels(samples)
    if codec == "vorbis" and samples.shape[0] == 1:
        samples = np.repeat(samples, 2, axis=0)  # FFmpeg's own Vorbis encoder is stereo only
    layout = {1: "mono", 2: "stereo"}[samples.shape[0]]
    stream = container.add_stream(codec, rate=rate, layout=layout)
    if codec == "vorbis":
        stream.codec_context.options = {"strict": "experimental"}
    fmt = stream.codec_context.format.name
    step = stream.codec_context.frame_size or 1024
    packets = []
    for i in range(0, samples.shape[1], step):
        frame = _audio_frame(samples[:, i : i + step], fmt, layout, rate, i)
        packets += stream.encode(frame)
    packets += stream.encode(None)
    return packets


def _mux(container, packets: list[av.Packet]) -> None:
    packets.sort(key=lambda p: float((p.dts if p.dts is not None else p.pts) * p.time_base))
    for packet in packets:
        container.mux(packet)


def make_video(
    path: str | Path,
    duration: float,
    fps: int = 25,
    size: tuple[int, int] = (160, 120),
    audio: np.ndarray | None = None,
    audio_rate: int = 16000,
    video_codec: str | None = None,
    audio_codec: str | None = None,
    rotation: int = 0,
    gop: int | None = None,
    options: dict | None = None,
    picture=None,
) -> Path:
    """Write a video of ``round(duration * fps)`` coded frames (frame k at k / fps s).

    Parameters
    ----------
    path : str or Path
        The extension picks the container and default codecs (see ``VIDEO_CODECS``).
    duration : float
        Seconds of video.
    fps : int
        Frames per second.
    size : (width, height)
        Frame size in pixels (even numbers).
    audio : ndarray, optional
        Float samples, ``(n,)`` or ``(channels, n)``, at ``audio_rate``; no audio track when
        None.
    video_codec, audio_codec : str, optional
        Override the container's default codecs.
    rotation : int
        Display rotation (degrees counter-clockwise) stored in the container.
    gop : int, optional
        Frames from one keyframe to the next (the encoder's default when None).
    options : dict, optional
        Container (muxer) options, e.g. ``{"movflags": "faststart"}``.
    picture : callable(k, size) -> ndarray, optional
        Draws frame ``k`` (uint8 RGB, ``(height, width, 3)``); :func:`frame_image` when None.
    """
    path = Path(path)
    default_video, default_audio = VIDEO_CODECS[path.suffix.lower()]
    video_codec = video_codec or default_video
    with av.open(str(path), mode="w", options=options or {}) as container:
        stream = container.add_stream(video_codec, rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = dict(_VIDEO_OPTIONS.get(video_codec, {}))
        if rotation:
            stream.set_display_rotation(rotation)
        if gop:
            stream.codec_context.gop_size = gop
        packets: list[av.Packet] = []
        audio_packets: list[av.Packet] = []
        if audio is not None:
            audio_packets = _encode_audio(
                container, audio_codec or default_audio, audio, audio_rate
            )
            if path.suffix.lower() == ".avi":
                # AVI cannot hold the negative timestamps of the mp3 encoder's priming
                # samples; left as they are, the muxer shifts all video frames but the first.
                # Start the audio at 0 with its priming instead, as real AVI files do.
                shift = max(0, -min(p.dts for p in audio_packets))
                for p in audio_packets:
                    p.pts, p.dts = p.pts + shift, p.dts + shift
        for k in range(round(duration * fps)):
            frame = av.VideoFrame.from_ndarray((picture or frame_image)(k, size), format="rgb24")
            frame.pts, frame.time_base = k, Fraction(1, fps)
            packets += stream.encode(frame)
        packets += stream.encode(None)
        _mux(container, packets + audio_packets)
    return path


def make_audio(
    path: str | Path, samples: np.ndarray, rate: int = 16000, codec: str | None = None
) -> Path:
    """Write ``samples`` (float, ``(n,)`` or ``(channels, n)``) as a .wav .mp3 .flac or .ogg."""
    path = Path(path)
    codec = codec or AUDIO_CODECS[path.suffix.lower()]
    with av.open(str(path), mode="w") as container:
        _mux(container, _encode_audio(container, codec, samples, rate))
    return path


def mp3_bytes(samples: np.ndarray, rate: int) -> bytes:
    """int16 mono ``samples`` as an MP3 file's bytes (LAME), as Google's TTS answers."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp3") as container:
        stream = container.add_stream("libmp3lame", rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples, np.int16)[None], format="s16", layout="mono"
        )
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


#: Sentences for long speech with pauses (Piper reads them; tiny.en hears most words right).
SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "Then it runs into the forest behind the old farm.",
    "A cold wind blows across the empty field.",
    "My sister bought a red bicycle last summer.",
    "We walked along the river until the sun went down.",
    "The children were laughing in the garden.",
    "Please close the window before you leave the house.",
    "He played the piano every evening after dinner.",
    "The train to the city was late again this morning.",
    "She wrote a long letter to her grandmother.",
    "Our neighbours have a small brown dog named Max.",
    "The museum opens at nine on weekdays.",
    "I like to read books about ships and the sea.",
    "The baker sells fresh bread every morning.",
    "A bright moon rose above the quiet town.",
    "They painted the kitchen a pale shade of green.",
)


def speech_with_pauses(
    folder: str | Path, rounds: int = 3, seed: int = 0, gaps: tuple[float, float] = (0.8, 2.0)
) -> tuple[Path, list[tuple[int, int]]]:
    """Piper reading :data:`SENTENCES` ``rounds`` times (each round in a seeded order), with
    a silence of ``gaps`` seconds (uniform) after each sentence: a 16 kHz mono WAV.

    Returns
    -------
    path : Path
        ``{folder}/speech_with_pauses.wav`` (about 62 s per round).
    silences : list of (start, end)
        Sample ranges of the digital silences put between the sentences.
    """
    from berg.stimulus import media
    from berg.stimulus.speech import PiperSynthesizer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    voice = PiperSynthesizer()
    said = [
        media.read_audio(voice.synthesize(s, folder / f"sentence_{i}.wav", language="en").path)
        for i, s in enumerate(SENTENCES)
    ]
    rng = np.random.default_rng(seed)
    parts, silences, at = [np.zeros(8000, np.float32)], [(0, 8000)], 8000
    for i in np.concatenate([rng.permutation(len(SENTENCES)) for _ in range(rounds)]):
        gap = np.zeros(round(rng.uniform(*gaps) * 16000), np.float32)
        parts += [said[i], gap]
        at += said[i].size
        silences.append((at, at + gap.size))
        at += gap.size
    audio = np.concatenate(parts)
    return make_audio(folder / "speech_with_pauses.wav", audio), silences


def aligned_words(reference, words):
    """The pairs of equal words of two transcripts (difflib's alignment of their texts) and
    how many words differ."""
    import difflib

    a, b = [w.text for w in reference], [w.text for w in words]
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    pairs = [
        (reference[m.a + k], words[m.b + k])
        for m in matcher.get_matching_blocks()
        for k in range(m.size)
    ]
    return pairs, max(len(a), len(b)) - len(pairs)
