"""berg's video features against the reference's computation, written here from its
description (docs/inference.md, section 5), not from berg's code.

A 130 s video (24 fps, a whole number of frames, textured pictures so that the resize's
rounding shows) in the reference's two chunks, [0, 60) and [60, 130) s. The reference, step
by step: every frame as moviepy's ffmpeg pipe gives it; for each 0.5 s bin the 64 requests
``int(fps * t + 1e-5)`` over the 4 s before the bin's end, answered by moviepy's reader
(``moviepy_reads``: one past the last frame gives the frame read before); torch's uint8
antialiased bilinear resize on the CPU (torchvision's path on x86), centre crop, ImageNet
normalisation; the model's own forward, one clip at a time, every hidden state averaged over
its tokens, then the layer groups.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from media_factory import frame_image, make_video
from reference_ffmpeg import ffmpeg_rgb_frames
from test_video_features import CROP, HIDDEN, moviepy_reads, save_model, tiny_config

from berg.features.video import VideoFeatureExtractor
from berg.stimulus.timeline import Chunk, split_into_chunks

pytestmark = pytest.mark.slow

FPS, SECONDS = 24, 130
WIDTH, HEIGHT = 96, 80
GROUPS = [[2], [3, 4]]  # fractions 0.5, 0.75, 1 of 5 hidden states
MEAN = torch.tensor([0.485, 0.456, 0.406])
STD = torch.tensor([0.229, 0.224, 0.225])


def textured(k: int, size) -> np.ndarray:
    """Frame k: its code blocks over moving smooth stripes (many in-between pixel values)."""
    width, height = size
    yy, xx = np.mgrid[0:height, 0:width]
    waves = 60 * np.sin(xx / 3.1 + k / 7.0) * np.cos(yy / 4.3 - k / 11.0)
    picture = frame_image(k, size).astype(np.float64) * 0.6 + 50 + waves[..., None]
    picture[..., 1] += 20 * np.sin((xx + yy) / 5.0 + k / 3.0)
    return np.clip(picture, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """The tiny random V-JEPA 2 of test_video_features (crop 64, 4 blocks of width 32)."""
    from transformers import VJEPA2Model

    torch.manual_seed(0)
    return save_model(VJEPA2Model(tiny_config()).eval(), tmp_path_factory.mktemp("vjepa2"))


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    path = make_video(
        tmp_path_factory.mktemp("film") / "film.mp4",
        SECONDS,
        fps=FPS,
        size=(WIDTH, HEIGHT),
        picture=textured,
    )
    return path, ffmpeg_rgb_frames(path, WIDTH, HEIGHT)


def reference_requests(chunk: Chunk) -> list[list[int]]:
    """The frame numbers the reference asks moviepy for, bin by bin (a sub-clip of
    ``chunk.duration`` seconds from ``chunk.start``; times in floats, as it computes them)."""
    n_bins = round(2 * chunk.duration)
    span = (chunk.start + chunk.duration) - chunk.start
    back = [k / 64 * 4.0 for k in reversed(range(64))]
    return [
        [int(FPS * (max(0.0, t - b) + chunk.start) + 0.00001) for b in back]
        for t in np.linspace(0, span, n_bins + 1)[1:]
    ]


def reference_features(model, frames: np.ndarray, chunk: Chunk, reads=moviepy_reads):
    requests = reference_requests(chunk)
    shown = np.reshape(reads(np.ravel(requests), len(frames)), (len(requests), 64))
    short = int(CROP * 256 / 224)  # 73: the processor's shortest edge for this crop
    long = int(short * WIDTH / HEIGHT)
    top, left = int((short - CROP) / 2), int((long - CROP) / 2)
    bins = []
    with torch.no_grad():
        for row in shown:
            clip = torch.from_numpy(frames[row]).permute(0, 3, 1, 2).contiguous()
            clip = F.interpolate(
                clip, size=(short, long), mode="bilinear", align_corners=False, antialias=True
            )
            clip = clip[:, :, top : top + CROP, left : left + CROP].float()
            pixels = (clip - (MEAN * 255)[:, None, None]) / (STD * 255)[:, None, None]
            out = model(
                pixel_values_videos=pixels[None], skip_predictor=True, output_hidden_states=True
            )
            states = [h[0].mean(dim=0) for h in out.hidden_states]
            bins.append(torch.stack([torch.stack([states[i] for i in g]).mean(0) for g in GROUPS]))
    return torch.stack(bins, dim=-1).numpy()  # (L, D, n)


def relative(a, b) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


@pytest.fixture(scope="module")
def reference(film, model_dir):
    from transformers import VJEPA2Model

    _, frames = film
    assert frames.shape == (SECONDS * FPS, HEIGHT, WIDTH, 3)
    model = VJEPA2Model.from_pretrained(model_dir).eval()
    chunks = split_into_chunks(float(SECONDS))
    assert [(c.start, c.duration) for c in chunks] == [(0.0, 60.0), (60.0, 70.0)]
    return chunks, model, [reference_features(model, frames, c) for c in chunks]


def test_decoded_frames_are_the_command_line_frames(film):
    # PyAV and the ``ffmpeg`` program share FFmpeg's decoder and RGB conversion.
    from berg.stimulus import media

    path, frames = film
    times = (np.arange(len(frames)) + 0.5) / FPS
    for i, frame in media.read_frames(path, times):
        assert np.array_equal(frame, frames[i]), i


def test_features_equal_the_reference_computation(film, model_dir, reference):
    path, _ = film
    chunks, _, expected = reference
    ours = VideoFeatureExtractor(model_dir, batch_size=8).extract(path, chunks)
    for feature, want in zip(ours, expected):
        assert feature.data.shape == want.shape == (2, HIDDEN, want.shape[-1])
        assert relative(feature.data, want) < 1e-6


def test_the_checks_see_the_last_frame_and_the_resize(film, model_dir, reference):
    # The comparison above is sharp enough to see both fixes: the float resize, and the
    # last frame of the file read as the last frame (not the one moviepy returns).
    path, frames = film
    chunks, model, expected = reference
    floated = VideoFeatureExtractor(model_dir, batch_size=8, resize_kernel="float").extract(
        path, chunks[1:]
    )
    assert relative(floated[0].data, expected[1]) > 1e-5

    def clamped(requests, n_frames):
        return [min(f, n_frames - 1) for f in requests]

    naive = reference_features(model, frames, chunks[1], reads=clamped)
    assert np.array_equal(naive[..., :-1], expected[1][..., :-1])
    assert relative(naive[..., -1], expected[1][..., -1]) > 1e-4
    assert math.isclose(chunks[1].end, SECONDS)
