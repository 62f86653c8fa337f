"""Make berg's sample stimulus, berg/data/sample.mp4 (licence-clean: made here).

An 8-second 320x240 H.264 video of drifting coloured bars with a spoken sentence (Piper's
en_US "joe" voice, trained on a CC0 dataset) in AAC. Regenerate with:

    pip install 'berg-tribe[tts]' && python scripts/make_sample_stimulus.py
"""

from __future__ import annotations

import argparse
import tempfile
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from berg.stimulus import media
from berg.stimulus.speech import PiperSynthesizer

TEXT = (
    "Welcome to the brain encoding response generator. "
    "A red ball rolls slowly across the screen, and then it stops."
)
SECONDS, FPS, SIZE, RATE = 8.0, 24, (320, 240), 16000


def frame(k: int) -> np.ndarray:
    width, height = SIZE
    x, y = np.meshgrid(np.arange(width), np.arange(height))
    t = k / FPS
    image = np.zeros((height, width, 3), np.uint8)
    image[..., 1] = (100 + 80 * np.sin(2 * np.pi * (x / 64 - t / 2))).astype(np.uint8)
    image[..., 2] = (100 + 80 * np.sin(2 * np.pi * (y / 48 + t / 3))).astype(np.uint8)
    cx = 30 + (width - 60) * min(t / 6, 1.0)  # the red ball rolls, then stops
    ball = (x - cx) ** 2 + (y - height / 2) ** 2 < 22**2
    image[ball] = (220, 30, 30)
    return image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--output", type=Path, default=Path(__file__).resolve().parents[1] / "berg/data/sample.mp4"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        PiperSynthesizer().synthesize(TEXT, wav, language="en")
        speech = media.read_audio(wav, RATE)
    audio = np.zeros(int(SECONDS * RATE), np.float32)
    audio[RATE // 2 : RATE // 2 + len(speech)] = speech[: len(audio) - RATE // 2]

    with av.open(str(args.output), mode="w") as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = *SIZE, "yuv420p"
        sound = container.add_stream("aac", rate=RATE)
        sound.layout = "mono"
        for k in range(int(SECONDS * FPS)):
            image = av.VideoFrame.from_ndarray(frame(k), format="rgb24")
            image.pts, image.time_base = k, Fraction(1, FPS)
            for packet in video.encode(image):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
        step = 1024
        for start in range(0, len(audio), step):
            chunk = av.AudioFrame.from_ndarray(
                audio[None, start : start + step], format="flt", layout="mono"
            )
            chunk.sample_rate, chunk.pts = RATE, start
            for packet in sound.encode(chunk):
                container.mux(packet)
        for packet in sound.encode(None):
            container.mux(packet)
    print(f"wrote {args.output} ({args.output.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
