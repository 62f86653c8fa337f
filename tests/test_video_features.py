"""V-JEPA 2 video features: which frames, how they are preprocessed, what the model makes of them.

A tiny random ``VJEPA2Model`` (crop 64, 4 blocks of width 32) is saved to a folder and loaded
through the production path; videos are real files whose frames show their own index
(tests/media_factory.py), so a test can read back which frame reached the model.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction

import numpy as np
import pytest
import torch
from media_factory import make_audio, make_video, tone

from berg.errors import InvalidParameterError, ModelLoadError, StimulusError
from berg.features import video as video_features
from berg.features.layers import LayerSelection
from berg.features.video import (
    VideoFeatureExtractor,
    clip_frame_indices,
    clip_times,
    normalize,
    preprocess_frames,
    resize_and_crop,
    resized_shape,
)
from berg.stimulus import media
from berg.stimulus.timeline import Chunk

CROP = 64
WIDTH, HEIGHT = 96, 80  # frames of the test videos; resized to 73 x 87, cropped at (4, 11)
N_LAYERS = 4  # 5 hidden states: fractions [0.5, 0.75, 1] give groups h2 and h3..h4
HIDDEN = 32
FPS_NTSC = Fraction(30000, 1001)


def tiny_config():
    from transformers import VJEPA2Config

    return VJEPA2Config(
        crop_size=CROP,
        patch_size=16,
        tubelet_size=2,
        frames_per_clip=64,
        hidden_size=HIDDEN,
        num_hidden_layers=N_LAYERS,
        num_attention_heads=2,
        mlp_ratio=2.0,
        pred_hidden_size=16,
        pred_num_attention_heads=2,
        pred_num_hidden_layers=1,
        num_pooler_layers=1,
    )


def save_model(model, folder, dtype=torch.float32):
    model.to(dtype).save_pretrained(folder)
    # What the Hub folder holds; "size" is ignored by the processor (derived from the crop).
    (folder / "video_preprocessor_config.json").write_text(
        json.dumps(
            {
                "crop_size": CROP,
                "do_center_crop": True,
                "do_normalize": True,
                "do_rescale": True,
                "do_resize": True,
                "image_mean": [0.485, 0.456, 0.406],
                "image_std": [0.229, 0.224, 0.225],
                "resample": 2,
                "rescale_factor": 0.00392156862745098,
                "size": {"shortest_edge": 999},
                "video_processor_type": "VJEPA2VideoProcessor",
            }
        )
    )
    return folder


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory):
    """The same bf16-representable random weights saved in float32 and in bfloat16."""
    from transformers import VJEPA2Model

    torch.manual_seed(0)
    model = VJEPA2Model(tiny_config()).eval()
    model.to(torch.bfloat16).to(torch.float32)  # weights exactly representable in bf16
    root = tmp_path_factory.mktemp("vjepa2")
    fp32 = save_model(model, root / "fp32")
    bf16 = save_model(model, root / "bf16", torch.bfloat16)
    return {"fp32": fp32, "bf16": bf16}


@pytest.fixture(scope="module")
def model_dir(model_dirs):
    return model_dirs["fp32"]


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    return {
        # 82 frames (3.28 s); its chunks end past the last frame.
        "25": make_video(root / "v25.mp4", 3.3, fps=25, size=(WIDTH, HEIGHT)),
        # 99 frames at 29.97 fps in mkv, whose timestamps are rounded to the millisecond.
        "ntsc": make_video(root / "ntsc.mkv", 3.3, fps=FPS_NTSC, size=(WIDTH, HEIGHT)),
        # Whole numbers of frames: the last clip asks for the frame after the last one.
        "24": make_video(root / "v24.mp4", 3.0, fps=24, size=(WIDTH, HEIGHT)),
        "50": make_video(root / "v50.mp4", 3.0, fps=50, size=(WIDTH, HEIGHT)),
        "audio": make_audio(root / "sound.wav", tone(440, 1.0)),
    }


def two_chunks(path):
    """A cut at 1.5 s: the first chunk's last bin reads the second chunk's first frame."""
    duration = media.probe(path).duration
    return [Chunk(0.0, 1.5), Chunk(1.5, duration - 1.5)]


# --------------------------------------------------------------------------- which frames


def moviepy_reads(requests, n_frames: int) -> list[int]:
    """The frames moviepy 2.2's ``FFMPEG_VideoReader.get_frame`` returns for a chunk's requests.

    Its state machine, written out: a fresh reader has read frame 0 (``pos`` = 1, the next
    frame in the pipe). A request for frame ``f`` (``int(fps * t + 1e-5)``) with ``f + 1 ==
    pos`` returns the frame kept; one behind, or more than 100 ahead, restarts ffmpeg at
    ``f`` and reads one frame; otherwise the frames up to ``f`` are skipped unread and ``f``
    is read. A read past the last frame (``n_frames - 1``) fails and keeps what was read
    before.
    """
    pos, kept, out = 1, 0, []
    for f in requests:
        if f + 1 != pos:
            if not (f + 1 < pos or f + 1 > pos + 100):
                pos = f  # skip_frames(f + 1 - pos - 1), then read_frame reads frame f
            else:
                pos = f  # initialize(t): ffmpeg starts at frame f
            if pos < n_frames:
                kept = pos
            pos += 1
        out.append(kept)
    return out


def exact_indices(chunk: Chunk, fps, n_frames=None) -> np.ndarray:
    """The reference's frames for a chunk, by hand: floor(fps * (start + max(0, t_k - j/16)))
    in exact rational arithmetic, then read the way moviepy reads them (``moviepy_reads``).

    Times are the decimals written (3.28, not the double nearest to it): the reference's
    ``+ 1e-5`` exists to land a frame boundary like 25 * 3.28 = 82 on 82, not 81.
    """
    start, duration = Fraction(repr(chunk.start)), Fraction(repr(chunk.duration))
    n = max(1, round(2 * chunk.duration))
    fps = Fraction(fps)
    rows = []
    for k in range(n):
        end = duration * (k + 1) / n
        rows.append(
            [
                math.floor(fps * (start + max(Fraction(0), end - Fraction(j, 16))))
                for j in range(63, -1, -1)
            ]
        )
    if n_frames is not None:
        rows = np.reshape(moviepy_reads(np.ravel(rows), n_frames), (n, 64)).tolist()
    return np.array(rows)


def test_clip_frame_indices_by_hand():
    got = clip_frame_indices(Chunk(0.0, 1.0), fps=25.0)
    assert got.shape == (2, 64)
    # Bin 0 ends at 0.5 s: the 56 frames before 0 s are clamped to the chunk start.
    assert got[0].tolist() == [0] * 56 + [1, 3, 4, 6, 7, 9, 10, 12]
    # Bin 1 ends at 1 s: 16 frames per second, 1.5625 frames of video apart.
    assert got[1].tolist() == [0] * 48 + [1, 3, 4, 6, 7, 9, 10, 12, 14, 15, 17, 18, 20, 21, 23, 25]


# The last six frames of the last clip of a video of n whole frames: times n / fps - j / 16
# for j = 5 .. 0, frame int(fps * t + 1e-5); the last one asks for frame n, past the end,
# and moviepy returns the frame before it in the clip (worked by hand; the same lists came
# out of moviepy 2.2.1 itself on such videos).
LAST_CLIP_TAILS = [
    (16, 80, [75, 76, 77, 78, 79, 79]),  # 1 frame per request: n - 1
    (24, 144, [136, 138, 139, 141, 142, 142]),  # 1.5 frames apart: n - 2
    (25, 150, [142, 143, 145, 146, 148, 148]),  # 1.5625: n - 2
    (FPS_NTSC, 300, [290, 292, 294, 296, 298, 298]),  # 1.873: n - 2
    (30, 150, [140, 142, 144, 146, 148, 148]),  # 1.875: n - 2
    (50, 300, [284, 287, 290, 293, 296, 296]),  # 3.125: n - 4
    (60, 300, [281, 285, 288, 292, 296, 296]),  # 3.75: n - 4
]


@pytest.mark.parametrize("fps, n_frames, tail", LAST_CLIP_TAILS)
def test_last_frame_of_the_file_as_moviepy_reads_it(fps, n_frames, tail):
    chunk = Chunk(0.0, float(n_frames / Fraction(fps)))
    got = clip_frame_indices(chunk, float(fps), n_frames)
    assert got[-1, -6:].tolist() == tail
    # Only the very last request was past the end; without n_frames it asks for frame n.
    unbounded = clip_frame_indices(chunk, float(fps))
    assert unbounded[-1, -1] == n_frames and (unbounded[:, :-1] < n_frames).all()
    assert (got.ravel()[:-1] == unbounded.ravel()[:-1]).all()
    assert got.tolist() == exact_indices(chunk, fps, n_frames).tolist()


def test_reads_past_the_end_keep_the_latest_frame_inside():
    # Requests far past the end (a chunk 2 s longer than the video's 40 frames at 25 fps):
    # each gets the latest request inside the file before it, clip by clip; a clip that
    # starts inside again reads frames again.
    chunk = Chunk(0.0, 3.6)
    got = clip_frame_indices(chunk, 25.0, n_frames=40)
    expected = exact_indices(chunk, 25, n_frames=40)
    assert got.tolist() == expected.tolist()
    assert got.max() == 39 and (np.diff(got, axis=1) >= 0).all()
    # Bins end at 3.6 (k + 1) / 7 s; the video at 1.6 s. Bin 3 (2.057 s) last reads inside
    # at 2.057 - 8/16 s (frame 38), bin 4 at 2.571 - 1 s (39), bin 6 at 3.6 - 33/16 s (38).
    assert got[:, -1].tolist() == [12, 25, 38, 38, 39, 39, 38]


@pytest.mark.parametrize(
    "chunk, fps",
    [
        (Chunk(0.0, 3.28), 25),
        (Chunk(0.0, 60.0), 25),
        (Chunk(60.0, 40.0), 25),
        (Chunk(0.0, 3.3033), FPS_NTSC),
        (Chunk(60.0, 37.5), Fraction(24000, 1001)),
        (Chunk(12.25, 7.75), 30),
    ],
)
def test_clip_frame_indices_match_exact_arithmetic(chunk, fps):
    assert clip_frame_indices(chunk, float(fps)).tolist() == exact_indices(chunk, fps).tolist()


def test_clip_frame_indices_edges():
    first = clip_frame_indices(Chunk(0.0, 60.0), 25.0)
    second = clip_frame_indices(Chunk(60.0, 40.0), 25.0)
    assert first.shape == (120, 64) and second.shape == (80, 64)
    # The end of a chunk that is not the last reads the next chunk's first frame ...
    assert first[-1, -1] == 1500 == second[0, 0]
    assert second[0, -8:].tolist() == [1501, 1503, 1504, 1506, 1507, 1509, 1510, 1512]
    # ... and a clip never reaches back before its own chunk's start.
    assert second.min() == 1500 and (second[0, :56] == 1500).all()
    # The end of the file (82 frames): frame 82 does not exist, moviepy returns its previous
    # request, 3.28 - 1/16 s -> int(80.4375) = 80.
    end = clip_frame_indices(Chunk(0.0, 3.28), 25.0, n_frames=82)
    assert clip_frame_indices(Chunk(0.0, 3.28), 25.0)[-1, -1] == 82
    # Frame 81, the last one, is skipped unread: no clip sees it.
    assert end[-1, -2:].tolist() == [80, 80] and end.max() == 80


def test_clip_times_follow_the_reference_float_operations():
    chunk = Chunk(0.3, 0.6)  # (0.3 + 0.6) - 0.3 != 0.6 in floating point
    times = clip_times(chunk)
    assert times.shape == (1, 64)
    assert times[0, -1] == (0.3 + 0.6) - 0.3 != 0.6
    assert times[0, -2] == times[0, -1] - 1 / 16
    assert (np.diff(times, axis=1) >= 0).all() and times.min() == 0.0


def test_clip_frame_indices_rejects_bad_input():
    with pytest.raises(InvalidParameterError):
        clip_frame_indices(Chunk(0.0, 1.0), fps=0.0)
    with pytest.raises(InvalidParameterError):
        clip_frame_indices(Chunk(0.0, 0.0), fps=25.0)
    with pytest.raises(InvalidParameterError):
        clip_frame_indices(Chunk(0.0, 1.0), fps=25.0, n_frames=0)


# --------------------------------------------------------------------------- preprocessing


def test_resized_shape_by_hand():
    assert resized_shape(80, 96, 64) == (73, 87)  # int(73 * 96 / 80) = int(87.6)
    assert resized_shape(96, 80, 64) == (87, 73)  # portrait
    assert resized_shape(1080, 1920, 256) == (292, 519)
    assert resized_shape(300, 300, 256) == (292, 292)


def test_resize_exact_halving_by_hand():
    # crop 7 -> shorter side int(7 * 256 / 224) = 8: a 16 x 16 image is halved. Antialiased
    # bilinear at scale 2 weighs 4 input pixels by 1, 3, 3, 1 (/ 8); at the first output
    # pixel the tap before the image is dropped and the others renormalised (3, 3, 1 / 7).
    # The crop of 7 out of 8 starts at int((8 - 7) / 2) = 0.
    columns = np.array([0, 8, 16, 40, 80, 120, 160, 200, 240, 250, 255, 255, 100, 0, 0, 9])
    image = np.broadcast_to(columns[None, :, None], (16, 16, 3)).astype(np.uint8)
    expected = []
    for i in range(8):
        taps = [(j, w) for j, w in zip(range(2 * i - 1, 2 * i + 3), (1, 3, 3, 1)) if 0 <= j < 16]
        expected.append(sum(w * columns[j] for j, w in taps) / sum(w for _, w in taps))
    expected = np.round(np.array(expected))[:7]
    for kernel in ("float", "uint8"):
        out = resize_and_crop(image[None], 7, kernel=kernel)
        assert out.shape == (1, 3, 7, 7) and out.dtype == torch.uint8
        assert np.abs(out[0, 0, 3].numpy().astype(int) - expected).max() <= (
            0 if kernel == "float" else 1
        )


def test_resize_and_crop_agree_with_pil():
    from PIL import Image

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    image = np.clip(
        128
        + 90 * np.sin(xx / 5.0)[..., None] * np.cos(yy / 4.0)[..., None]
        + rng.normal(0, 20, (HEIGHT, WIDTH, 3)),
        0,
        255,
    ).astype(np.uint8)
    pil = np.asarray(Image.fromarray(image).resize((87, 73), Image.BILINEAR))
    pil = torch.from_numpy(pil[4:68, 11:75].copy()).permute(2, 0, 1)  # crop offsets by hand
    for kernel, min_equal in (("uint8", 0.97), ("float", 0.6)):
        ours = resize_and_crop(image[None], CROP, kernel=kernel)[0]
        diff = (ours.int() - pil.int()).abs()
        assert diff.max() <= 1, kernel
        assert (diff == 0).float().mean() >= min_equal, kernel


def test_no_resize_when_already_at_size():
    image = np.random.default_rng(1).integers(0, 256, (73, 87, 3), dtype=np.uint8)
    out = resize_and_crop(image[None], CROP)
    assert torch.equal(out[0], torch.from_numpy(image[4:68, 11:75].copy()).permute(2, 0, 1))


def test_normalize_by_hand():
    pixels = torch.tensor([0, 128, 255], dtype=torch.uint8).reshape(3, 1, 1).expand(3, 2, 2)
    out = normalize(pixels)
    expected = [(0 - 0.485) / 0.229, (128 / 255 - 0.456) / 0.224, (1 - 0.406) / 0.225]
    assert out.dtype == torch.float32 and out.shape == (3, 2, 2)
    assert out[:, 0, 0].tolist() == pytest.approx(expected, abs=1e-6)


def test_preprocess_frames_shapes_and_errors():
    frames = np.zeros((5, HEIGHT, WIDTH, 3), np.uint8)
    out = preprocess_frames(frames, CROP)
    assert out.shape == (5, 3, CROP, CROP) and out.dtype == torch.float32
    assert out[:, 0].flatten().tolist() == pytest.approx([-0.485 / 0.229] * 5 * CROP * CROP)
    with pytest.raises(InvalidParameterError):
        preprocess_frames(frames.astype(np.float32), CROP)
    with pytest.raises(InvalidParameterError):
        preprocess_frames(frames[..., :2], CROP)
    with pytest.raises(InvalidParameterError):
        resize_and_crop(frames, CROP, kernel="lanczos")


# ---------------------------------------------------------------------- the frames the model sees


def crop_code(image: np.ndarray) -> int:
    """Read media_factory's frame code from a resized and cropped (64 x 64) test frame.

    The code is a 3 x 4 grid of blocks over the whole 96 x 80 frame; after the resize to
    87 x 73 and the crop at (4, 11), the outer columns are only partly visible: read the
    middle of the visible part of each block.
    """
    scale_y, scale_x = 73 / HEIGHT, 87 / WIDTH
    code = 0
    for bit in range(12):
        r, c = divmod(bit, 4)
        y0, y1 = r * HEIGHT // 3 * scale_y - 4, (r + 1) * HEIGHT // 3 * scale_y - 4
        x0, x1 = c * WIDTH // 4 * scale_x - 11, (c + 1) * WIDTH // 4 * scale_x - 11
        y0, y1, x0, x1 = max(y0, 0), min(y1, CROP), max(x0, 0), min(x1, CROP)
        dy, dx = (y1 - y0) / 4, (x1 - x0) / 4
        block = image[round(y0 + dy) : round(y1 - dy), round(x0 + dx) : round(x1 - dx)]
        if block.mean() > 128:
            code |= 1 << bit
    return code


def record_model_frames(extractor):
    """Capture the pixels entering the encoder, un-normalised back to uint8 frame codes."""
    seen = []
    std = torch.tensor(extractor.std).reshape(3, 1, 1) * 255
    mean = torch.tensor(extractor.mean).reshape(3, 1, 1) * 255

    def hook(module, args):
        pixels = args[0].detach().float().cpu()  # (B, 64, 3, crop, crop)
        images = (pixels * std + mean).round().clamp(0, 255).to(torch.uint8)
        for clip in images:
            seen.append([crop_code(frame.permute(1, 2, 0).numpy()) for frame in clip])

    handle = extractor.model.encoder.embeddings.register_forward_pre_hook(hook)
    return seen, handle


@pytest.mark.parametrize("decode", ["once", "per-clip"])
@pytest.mark.parametrize(
    "name, fps, n_frames", [("25", 25, 82), ("ntsc", FPS_NTSC, 99), ("24", 24, 72), ("50", 50, 150)]
)
def test_model_sees_the_reference_frames(model_dir, videos, decode, name, fps, n_frames):
    path = videos[name]
    chunks = two_chunks(path)
    extractor = VideoFeatureExtractor(model_dir, decode=decode, batch_size=3)
    seen, handle = record_model_frames(extractor)
    try:
        extractor.extract(path, chunks)
    finally:
        handle.remove()
    # The chunk times as the decimals they stand for (1.78 s, not 3.28 - 1.5).
    decimal = [Chunk(round(c.start, 6), round(c.duration, 6)) for c in chunks]
    expected = np.concatenate([exact_indices(c, fps, n_frames) for c in decimal])
    assert np.array(seen).tolist() == expected.tolist()
    if name in ("24", "50"):  # frame n - 1 skipped: n - 2 at 24 fps, n - 4 at 50 fps
        assert seen[-1][-2:] == [n_frames - (2 if name == "24" else 4)] * 2
    fps = media.probe(path).fps
    # The cut at 1.5 s: the first chunk's last frame is the second chunk's first.
    first_bins = round(2 * chunks[0].duration)
    assert seen[first_bins - 1][-1] == seen[first_bins][0] == int(fps * 1.5 + 1e-5)


def test_once_decodes_each_frame_once(model_dir, tmp_path, monkeypatch):
    path = make_video(tmp_path / "six.mp4", 6.0, fps=25, size=(WIDTH, HEIGHT))
    decoded = []
    original = media.video._decode_video

    def counting(container, stream):
        for frame in original(container, stream):
            decoded.append(frame.pts)
            yield frame

    monkeypatch.setattr(media.video, "_decode_video", counting)
    counts, stats = {}, {}
    for decode in ("once", "per-clip"):
        decoded.clear()
        extractor = VideoFeatureExtractor(model_dir, decode=decode, batch_size=4)
        extractor.extract(path, [Chunk(0.0, 6.0)])
        counts[decode], stats[decode] = len(decoded), extractor.last_stats
    distinct = len(np.unique(clip_frame_indices(Chunk(0.0, 6.0), 25.0, 150)))
    # Once: the file decoded in one pass, every frame a clip needs resized once.
    assert counts["once"] == 150
    assert stats["once"]["frames_read"] == stats["once"]["frames_resized"] == distinct
    assert stats["once"]["forward_passes"] == math.ceil(12 / 4)
    # The reference's way decodes from the start (a keyframe) for every clip: 6.6 times more.
    assert counts["per-clip"] >= 4 * counts["once"]
    assert stats["per-clip"]["frames_resized"] == 12 * 64
    assert stats["per-clip"]["forward_passes"] == 12


@pytest.mark.parametrize("name", ["25", "ntsc"])
def test_decoding_in_a_background_thread_changes_nothing(model_dir, features, videos, name):
    # Five bins a batch over 9 and 3 bins: full batches, a short one, results read one batch
    # late; the frames come from the decoding thread.
    extractor = VideoFeatureExtractor(model_dir, batch_size=5, decode_ahead=4)
    ahead = extractor.extract(videos[name], two_chunks(videos[name]))
    assert extractor.last_stats["batch_size"] == 5
    for a, b in zip(ahead, features[name, "per-clip"]):
        assert np.abs(a.data - b.data).max() < 1e-5


def test_batch_size_from_the_memory_budget(model_dir):
    from berg.features.budget import CPU_BUDGET

    # Tiny model, crop 64: per clip 64 x 3 x 64^2 x (1 + 4 + 4) bytes of pixels (uint8,
    # normalised, model dtype) plus (6 + 2 x 2.0) x 512 tokens x 32 wide x 4 bytes of one
    # block's activations (32 tubelets of 4 x 4 patches).
    per_clip = 64 * 3 * CROP**2 * 9 + 10 * (32 * (CROP // 16) ** 2) * HIDDEN * 4
    assert VideoFeatureExtractor(model_dir, memory_budget=3 * per_clip).clips_per_batch() == 3
    assert VideoFeatureExtractor(model_dir, memory_budget=1).clips_per_batch() == 1
    assert VideoFeatureExtractor(model_dir).clips_per_batch() == min(16, CPU_BUDGET // per_clip)
    assert VideoFeatureExtractor(model_dir, batch_size=7, memory_budget=1).clips_per_batch() == 7
    assert VideoFeatureExtractor(model_dir).decode_ahead == 0  # the CPU: no decoding thread


# --------------------------------------------------------------------------- features


@pytest.fixture(scope="module")
def features(model_dir, videos):
    """Features of both videos, cut in two chunks, in both decoding modes."""
    out = {}
    for name in ("25", "ntsc"):
        for decode in ("once", "per-clip"):
            extractor = VideoFeatureExtractor(model_dir, decode=decode, batch_size=3)
            out[name, decode] = extractor.extract(videos[name], two_chunks(videos[name]))
    return out


@pytest.mark.parametrize("name", ["25", "ntsc"])
def test_once_equals_per_clip(features, videos, name):
    once, per_clip = features[name, "once"], features[name, "per-clip"]
    chunks = two_chunks(videos[name])
    assert len(once) == len(per_clip) == len(chunks)
    for a, b, chunk in zip(once, per_clip, chunks):
        assert (a.start, a.duration) == (b.start, b.duration) == (chunk.start, chunk.duration)
        assert a.data.dtype == np.float32
        assert a.data.shape == (2, HIDDEN, round(2 * chunk.duration))
        assert np.abs(a.data - b.data).max() < 1e-5
        assert np.isfinite(a.data).all()
    # Different frames make different features: bins are not all alike.
    assert np.abs(np.diff(once[1].data, axis=-1)).max() > 1e-3


def model_groups(model, clips: torch.Tensor, fractions_groups) -> torch.Tensor:
    """Token-averaged hidden states from the model's own forward, grouped by hand."""
    pixels = normalize(clips)
    with torch.no_grad():
        out = model(pixel_values_videos=pixels, skip_predictor=True, output_hidden_states=True)
    states = [h.mean(dim=1) for h in out.hidden_states]
    assert len(states) == N_LAYERS + 1
    # The last hidden state is the one before the final LayerNorm.
    assert not torch.allclose(out.hidden_states[-1], out.last_hidden_state)
    return torch.stack(
        [torch.stack([states[i] for i in g]).mean(0) for g in fractions_groups]
    ).permute(1, 0, 2)


@pytest.mark.parametrize(
    "layers, groups",
    [
        (LayerSelection(), [[2], [3, 4]]),
        (LayerSelection(cache_n_layers=3), [[2, 4]]),  # keeps h0 h2 h4; positions 1..2
        (
            LayerSelection(fractions=(0.0, 0.25, 0.5, 0.75, 1.0), aggregation=None),
            [[0], [1], [2], [3], [4]],
        ),
        (LayerSelection(fractions=(0.25, 1.0), aggregation="mean"), [[1, 4]]),
    ],
)
def test_layer_groups_match_the_model_forward(model_dir, layers, groups):
    extractor = VideoFeatureExtractor(model_dir, layers=layers)
    clips = torch.from_numpy(
        np.random.default_rng(2).integers(0, 256, (2, 64, 3, CROP, CROP), dtype=np.uint8)
    )
    ours = extractor._clip_features(extractor._pixels(clips), {"clips": 0, "forward_passes": 0})
    expected = model_groups(extractor.model, clips, groups)
    assert ours.shape == (2, len(groups), HIDDEN)
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=1e-5)


def test_explicit_dtype_upcasts_a_bf16_folder(model_dirs, videos):
    path, chunks = videos["25"], [Chunk(0.0, 1.0)]
    from_bf16 = VideoFeatureExtractor(model_dirs["bf16"], dtype=torch.float32)
    assert next(from_bf16.model.parameters()).dtype == torch.float32
    from_fp32 = VideoFeatureExtractor(model_dirs["fp32"])
    a = from_bf16.extract(path, chunks)[0].data
    b = from_fp32.extract(path, chunks)[0].data
    np.testing.assert_array_equal(a, b)
    in_bf16 = VideoFeatureExtractor(model_dirs["bf16"], dtype=torch.bfloat16)
    assert next(in_bf16.model.parameters()).dtype == torch.bfloat16
    c = in_bf16.extract(path, chunks)[0].data
    assert c.dtype == np.float32 and 0 < np.abs(c - b).max() < 0.1 * np.abs(b).max()


def test_progress_reports_seconds(model_dir, videos):
    steps = []
    chunks = two_chunks(videos["25"])
    VideoFeatureExtractor(model_dir, batch_size=2).extract(
        videos["25"], chunks, progress=steps.append
    )
    assert len(steps) == sum(round(2 * c.duration) for c in chunks)
    assert sum(steps) == pytest.approx(sum(c.duration for c in chunks))


def test_float_resize_kernel_gives_close_features(model_dir, features, videos):
    extractor = VideoFeatureExtractor(model_dir, resize_kernel="float")
    assert VideoFeatureExtractor(model_dir).resize_kernel == "uint8"  # the default
    ours = extractor.extract(videos["25"], two_chunks(videos["25"]))
    for a, b in zip(ours, features["25", "once"]):
        assert a.data.shape == b.data.shape
        assert 0 < np.abs(a.data - b.data).max() < 0.05 * np.abs(b.data).max()


def test_no_chunks_no_work(model_dir, videos):
    extractor = VideoFeatureExtractor(model_dir)
    assert extractor.extract(videos["25"], []) == []
    assert extractor._model is None


def test_fingerprint(model_dirs):
    base = VideoFeatureExtractor(model_dirs["fp32"]).fingerprint()
    json.dumps(base)
    assert base["preprocessing"]["crop_size"] == CROP
    same = VideoFeatureExtractor(model_dirs["fp32"], decode="per-clip", batch_size=1)
    assert same.fingerprint() == base
    for other in (
        VideoFeatureExtractor(model_dirs["fp32"], dtype=torch.bfloat16),
        VideoFeatureExtractor(model_dirs["fp32"], resize_kernel="float"),
        VideoFeatureExtractor(model_dirs["fp32"], layers=LayerSelection(cache_n_layers=3)),
        VideoFeatureExtractor(model_dirs["bf16"]),
    ):
        assert other.fingerprint() != base


def test_crop_size_from_model_config_when_no_processor_file(model_dir, tmp_path):
    folder = tmp_path / "bare"
    folder.mkdir()
    (folder / "config.json").write_text((model_dir / "config.json").read_text())
    extractor = VideoFeatureExtractor(folder)
    assert extractor.crop_size == CROP
    assert extractor.mean == (0.485, 0.456, 0.406)
    with pytest.raises(ModelLoadError, match="cannot load the video model"):
        extractor.load()  # no weights


# --------------------------------------------------------------------------- errors


def test_a_file_without_video_is_a_stimulus_error(model_dir, videos, tmp_path):
    extractor = VideoFeatureExtractor(model_dir)
    with pytest.raises(StimulusError, match="no video stream"):
        extractor.extract(videos["audio"], [Chunk(0.0, 1.0)])
    with pytest.raises(StimulusError):
        extractor.extract(tmp_path / "missing.mp4", [Chunk(0.0, 1.0)])


def test_model_folder_errors(tmp_path, model_dir):
    with pytest.raises(ModelLoadError, match="does not exist"):
        VideoFeatureExtractor(tmp_path / "nowhere")
    with pytest.raises(ModelLoadError, match="no config.json"):
        VideoFeatureExtractor(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    with pytest.raises(ModelLoadError, match="V-JEPA 2"):
        VideoFeatureExtractor(tmp_path)
    (tmp_path / "config.json").write_text((model_dir / "config.json").read_text())
    (tmp_path / "video_preprocessor_config.json").write_text(json.dumps({"resample": 3}))
    with pytest.raises(ModelLoadError, match="bilinear"):
        VideoFeatureExtractor(tmp_path)


def test_bad_arguments(model_dir, videos):
    with pytest.raises(InvalidParameterError):
        VideoFeatureExtractor(model_dir, decode="twice")
    with pytest.raises(InvalidParameterError):
        VideoFeatureExtractor(model_dir, batch_size=0)
    with pytest.raises(InvalidParameterError, match="decode_ahead"):
        VideoFeatureExtractor(model_dir, decode_ahead=-1)
    with pytest.raises(InvalidParameterError, match="memory_budget"):
        VideoFeatureExtractor(model_dir, memory_budget=0)
    with pytest.raises(InvalidParameterError):
        VideoFeatureExtractor(model_dir, dtype=torch.int8)
    with pytest.raises(InvalidParameterError):
        VideoFeatureExtractor(model_dir, resize_kernel="nearest")
    with pytest.raises(InvalidParameterError):
        VideoFeatureExtractor(model_dir).extract(videos["25"], [Chunk(-1.0, 2.0)])


def test_close_releases_the_model(model_dir):
    extractor = VideoFeatureExtractor(model_dir)
    assert extractor.model is not None
    extractor.close()
    assert extractor._model is None
    assert video_features.CLIP_FRAMES == 64


def test_missing_encoder_weights_are_a_load_error(model_dir, tmp_path):
    from safetensors.torch import load_file, save_file

    for name in ("config.json", "video_preprocessor_config.json"):
        (tmp_path / name).write_text((model_dir / name).read_text())
    weights = load_file(model_dir / "model.safetensors")
    del weights["encoder.layer.0.attention.query.weight"]
    save_file(weights, tmp_path / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(ModelLoadError, match="lacks 1 encoder weights"):
        VideoFeatureExtractor(tmp_path).load()
