"""Video features: V-JEPA 2 (``facebook/vjepa2-vitg-fpc64-256``) clips, one per 0.5 s bin.

What the reference computes (neuralset 0.0.2 ``HuggingFaceVideo`` reading frames with
moviepy 2; reference doc, section 5), per video chunk of ``d`` seconds starting at ``s``:

- ``n = round(2 * d)`` bins (at least one here; the reference returns nothing for a chunk
  under 0.25 s). Bin ``k`` ends at ``t_k``, the ``k + 1``-th value of
  ``linspace(0, (s + d) - s, n + 1)``: the chunk is a moviepy sub-clip whose duration is
  ``(s + d) - s``, which may differ from ``d`` in the last bit.
- Its clip is 64 frames at ``max(0, t_k - j / 64 * 4)`` for ``j = 63 .. 0`` seconds into the
  chunk: 16 frames per second over the 4 s that end at ``t_k``, clamped at the chunk start.
- Frame at chunk time ``t``: index ``int(fps * (s + t) + 1e-5)`` of the whole file (moviepy's
  rule; ``ffmpeg`` seeks to that frame's time, then reads frames in order). So the last
  bin of a chunk that is not the last reads the next chunk's first frame, and indices past
  the end of the file give the last frame.
- ``VJEPA2VideoProcessor``: resize the shorter side to ``int(crop * 256 / 224)`` (292 for
  the 256 crop, whatever the folder's ``size`` says) and the longer one to
  ``int(292 * long / short)``, bilinear with antialiasing, the result rounded back to uint8;
  centre crop ``crop x crop`` at offsets ``int((size - crop) / 2)``; ``(x - 255 * mean) /
  (255 * std)`` in float32 (ImageNet mean and std) -> ``(1, 64, 3, crop, crop)``.
- ``VJEPA2Model`` (the reference also ran the predictor head, whose output it never used),
  ``output_hidden_states``: the embedding output and each block's output, the last one
  *before* the encoder's final LayerNorm; each averaged over all tokens (8,192 for the
  256 crop), then into layer groups (:mod:`berg.features.layers`) -> ``(L, 1408)`` per bin
  and ``(L, 1408, n)`` per chunk.

How this module computes the same numbers faster (the reference decodes each frame about 8
times and runs clips one at a time):

- all clip frames of a chunk come from one decoding pass (:func:`berg.stimulus.media.read_frames`);
  each distinct frame is resized and cropped once, kept as uint8 only while a clip still
  needs it (about the last 4 s plus a batch), and clips are assembled by indexing;
- clips run through the encoder in batches; only the current batch of pixels sits on the
  device; the blocks run one after the other and each hidden state is averaged as soon as it
  exists, so the 41 full hidden states of ViT-g (2 GB per clip in float32) are never held.
  The predictor head is never run.
- ``decode="per-clip"`` keeps the reference's shape (each clip decoded on its own, batch 1)
  as a baseline for benchmarks and equality tests.

Known differences from the reference, all at the level of rounding:

- frames are picked by presentation time: reference frame ``k`` is the frame on screen at
  ``(k + 0.5) / fps`` (exactly frame ``k`` of a constant-frame-rate file, even when its
  timestamps are rounded to a millisecond as in mkv). ``fps`` is the stream's average rate;
  moviepy parses the rate ``ffmpeg`` prints, rounded to 2 decimals and snapped to
  ``N * 1000 / 1001`` for N in 23, 24, 25, 30, 50: the same rate for 25, 30, 24, 29.97 or
  23.976 fps, but not for 59.94 (60000 / 1001), where some of its picks come out one frame
  off ours, a share that grows with the time into the file (about 0.00006 per second);
- PyAV's RGB conversion versus the ``ffmpeg`` command line: a unit or two on some pixels;
- the resize: torchvision takes one of two code paths for a uint8 image, by machine and
  version: a float32 interpolation rounded at the end (on a GPU; on CPUs reporting AVX512 up
  to torchvision 0.23 at least) or torch's native uint8 kernel (AVX2 CPUs; AVX512 too in
  0.29), which rounds between its two passes like PIL. They differ by one level on 10-20 %
  of the pixels, so the reference's own numbers depend on where it ran. ``resize_kernel``
  picks either; ``float`` is the default (and the one that runs on a GPU);
- token means are taken in float32 whatever the model dtype (the reference averaged in the
  model dtype).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from berg.errors import InvalidParameterError, ModelLoadError, StimulusError
from berg.features.budget import batch_beside_model, check_budget
from berg.features.layers import LayerSelection, group_indices, select_hidden_states
from berg.features.loading import (
    ModelHolder,
    check_extractor_options,
    check_model_folder,
    folder_digest,
    load_pretrained,
)
from berg.features.prefetch import Prefetcher
from berg.features.timed import FEATURE_FREQUENCY, TimedFeature
from berg.stimulus import media
from berg.stimulus.timeline import Chunk

__all__ = ["VideoFeatureExtractor", "clip_frame_indices", "clip_times", "preprocess_frames",
           "resize_and_crop", "normalize", "resized_shape", "CLIP_FRAMES", "CLIP_SECONDS",
           "DECODE_MODES", "RESIZE_KERNELS"]

#: Frames per clip: the reference feeds V-JEPA 2 (fpc64) 64 frames ...
CLIP_FRAMES = 64
#: ... spread over the 4 s that end at each bin's end (16 frames per second).
CLIP_SECONDS = 4.0
#: ``once``: one decoding pass per chunk, batched clips; ``per-clip``: the reference's way.
DECODE_MODES = ("once", "per-clip")
#: torchvision's two code paths for resizing a uint8 image (see `resize_and_crop`).
RESIZE_KERNELS = ("float", "uint8")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_PREPROCESSOR_FILES = ("video_preprocessor_config.json", "preprocessor_config.json")
_BILINEAR = 2  # PIL's code for bilinear resampling, as processor configs store it
_VERSION = 1  # bump when the computation changes, so cached features are recomputed
_MOST_CLIPS = 16  # per batch when sized by the memory budget
_GPU_DECODE_AHEAD = 64  # frames decoded ahead by a background thread beside a GPU model


# --------------------------------------------------------------------------- which frames


def _check_chunk(chunk: object) -> Chunk:
    start = getattr(chunk, "start", None)
    duration = getattr(chunk, "duration", None)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
               for v in (start, duration)) or start < 0 or duration <= 0:
        raise InvalidParameterError(f"a video chunk needs a finite start >= 0 and duration > 0 "
                                    f"(seconds), got {chunk!r}")
    return chunk


def _n_bins(duration: float) -> int:
    return max(1, round(FEATURE_FREQUENCY * duration))


def clip_times(chunk: Chunk) -> np.ndarray:
    """The times (seconds from the chunk start) of every clip frame, as the reference has them.

    Parameters
    ----------
    chunk : Chunk

    Returns
    -------
    ndarray, float64, shape (n_bins, 64)
        Row ``k``: ``max(0, t_k - j / 64 * 4)`` for ``j = 63 .. 0``, non-decreasing, the last
        one ``t_k``, the end of bin ``k``; ``n_bins = max(1, round(2 * chunk.duration))``.
    """
    chunk = _check_chunk(chunk)
    n = _n_bins(chunk.duration)
    span = (chunk.start + chunk.duration) - chunk.start  # moviepy's sub-clip duration
    ends = np.linspace(0, span, n + 1)[1:]
    # The reference's own float operations, in its order: k / 64 * T, then t - that.
    back = np.array([k / CLIP_FRAMES * CLIP_SECONDS for k in reversed(range(CLIP_FRAMES))])
    return np.maximum(0.0, ends[:, None] - back[None, :])


def clip_frame_indices(chunk: Chunk, fps: float, n_frames: int | None = None) -> np.ndarray:
    """The file's frame index of every clip frame: the reference's ``int(fps * t + 1e-5)``.

    Parameters
    ----------
    chunk : Chunk
        Seconds on the file's timeline.
    fps : float
        Frames per second of the video.
    n_frames : int, optional
        Frames in the file: indices past the end become the last frame (the reference reads
        past the end and keeps the last frame it could read). None leaves them as they are.

    Returns
    -------
    ndarray, int64, shape (n_bins, 64)
        Non-decreasing along each row and down each column.

    Examples
    --------
    >>> clip_frame_indices(Chunk(0.0, 1.0), fps=25.0)[:, -3:]
    array([[ 9, 10, 12],
           [21, 23, 25]])
    """
    if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
        raise InvalidParameterError(f"fps must be a positive number, got {fps!r}")
    times = clip_times(chunk) + chunk.start  # moviepy: sub-clip time + its start
    indices = media.frame_index_at(times.ravel(), float(fps)).reshape(times.shape)
    if n_frames is not None:
        if isinstance(n_frames, bool) or not isinstance(n_frames, (int, np.integer)) \
                or n_frames < 1:
            raise InvalidParameterError(f"n_frames must be None or a positive int, "
                                        f"got {n_frames!r}")
        indices = np.minimum(indices, int(n_frames) - 1)
    return indices


def _frame_times(indices: np.ndarray, fps: float) -> np.ndarray:
    """Times at which frames ``indices`` of a constant-rate video are on screen: mid-frame."""
    return (np.asarray(indices, dtype=np.float64) + 0.5) / fps


# --------------------------------------------------------------------------- preprocessing


def resized_shape(height: int, width: int, crop_size: int) -> tuple[int, int]:
    """``(height, width)`` after the processor's resize: shorter side ``int(crop * 256 / 224)``.

    The longer side is ``int(short * long / original short)``, truncated, as transformers'
    ``get_resize_output_image_size`` computes it (96 x 80 with a 64 crop -> 73 x 87).
    """
    size = int(crop_size * 256 / 224)
    if width <= height:
        return int(size * height / width), size
    return size, int(size * width / height)


def _as_uint8_frames(frames) -> torch.Tensor:
    """``(N, H, W, 3)`` uint8 array or tensor -> ``(N, 3, H, W)`` uint8 tensor."""
    if isinstance(frames, np.ndarray):
        frames = torch.from_numpy(np.array(frames, copy=not frames.flags.writeable))
    if not isinstance(frames, torch.Tensor) or frames.dtype != torch.uint8 \
            or frames.ndim != 4 or frames.shape[-1] != 3:
        shape = getattr(frames, "shape", None)
        dtype = getattr(frames, "dtype", type(frames).__name__)
        raise InvalidParameterError(f"frames must be uint8 RGB of shape (N, H, W, 3), got "
                                    f"{dtype} of shape {shape}")
    # Channels first and contiguous, as the processor hands frames to torchvision (a copy
    # in torch is faster than a transposing copy in numpy).
    return frames.permute(0, 3, 1, 2).contiguous()


def _to_device(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``x`` on ``device``; a CPU -> GPU copy goes through pinned memory without waiting, so
    it queues behind the model's work instead of stopping this thread until that is done."""
    if device.type == "cuda" and x.device.type == "cpu":
        return x.pin_memory().to(device, non_blocking=True)
    return x.to(device)


def resize_and_crop(frames, crop_size: int, device=None, kernel: str = "float") -> torch.Tensor:
    """The processor's resize and centre crop, still in uint8.

    Parameters
    ----------
    frames : ndarray or torch.Tensor, uint8, shape (N, H, W, 3)
        RGB frames.
    crop_size : int
        Side of the square crop (256 for the release).
    device : torch.device, optional
        Where the result goes (and, for the float kernel, where it is computed); the frames'
        own device when None.
    kernel : {'float', 'uint8'}
        Which of torchvision's two code paths for a uint8 image to follow. ``float``: the
        image in float32, one bilinear antialiased interpolation, rounded half to even (what
        torchvision does on a GPU, and on CPUs reporting AVX512 up to torchvision 0.23 at
        least). ``uint8``: torch's native uint8 kernel, on the CPU (torchvision on AVX2
        CPUs; on AVX512 ones too in 0.29), which resizes one axis after the other in fixed
        point, rounding in between, as PIL does. The two differ by one level on 10-20 % of
        the pixels.

    Returns
    -------
    torch.Tensor, uint8, shape (N, 3, crop_size, crop_size)
        Cropped at offsets ``int((size - crop) / 2)``.
    """
    if kernel not in RESIZE_KERNELS:
        raise InvalidParameterError(f"kernel must be one of "
                                    f"{', '.join(map(repr, RESIZE_KERNELS))}, got {kernel!r}")
    x = _as_uint8_frames(frames)
    device = x.device if device is None else torch.device(device)
    height, width = x.shape[-2:]
    new_h, new_w = resized_shape(height, width, crop_size)
    if (new_h, new_w) == (height, width):  # torchvision returns the image untouched
        x = _to_device(x, device)
    elif kernel == "uint8":
        x = _to_device(F.interpolate(x.cpu(), size=(new_h, new_w), mode="bilinear",
                                     align_corners=False, antialias=True), device)
    else:
        x = F.interpolate(_to_device(x, device).float(), size=(new_h, new_w), mode="bilinear",
                          align_corners=False, antialias=True)
        x = x.round_().clamp_(0, 255).to(torch.uint8)
    top = int((new_h - crop_size) / 2.0)
    left = int((new_w - crop_size) / 2.0)
    return x[:, :, top:top + crop_size, left:left + crop_size].contiguous()


def normalize(pixels: torch.Tensor, mean=IMAGENET_MEAN, std=IMAGENET_STD,
              rescale_factor: float = 1 / 255) -> torch.Tensor:
    """``(x * rescale - mean) / std`` per channel, in float32, with the processor's fused ops.

    Parameters
    ----------
    pixels : torch.Tensor, uint8, shape (..., 3, H, W)

    Returns
    -------
    torch.Tensor, float32, same shape
        Computed as ``(x - mean / rescale) / (std / rescale)`` with float32 constants, the
        way transformers fuses rescaling into normalisation.
    """
    scale = 1.0 / rescale_factor
    mean_t = torch.tensor(mean, dtype=torch.float32, device=pixels.device) * scale
    std_t = torch.tensor(std, dtype=torch.float32, device=pixels.device) * scale
    return (pixels.float() - mean_t[:, None, None]) / std_t[:, None, None]


def preprocess_frames(frames, crop_size: int, mean=IMAGENET_MEAN, std=IMAGENET_STD,
                      rescale_factor: float = 1 / 255, kernel: str = "float") -> torch.Tensor:
    """``VJEPA2VideoProcessor`` on a stack of frames: resize, centre crop, rescale, normalise.

    Parameters
    ----------
    frames : ndarray or torch.Tensor, uint8, shape (N, H, W, 3)
    crop_size : int
    mean, std : sequence of 3 floats
        Per-channel normalisation (ImageNet's by default).
    rescale_factor : float
    kernel : {'float', 'uint8'}
        The resize's code path (see :func:`resize_and_crop`).

    Returns
    -------
    torch.Tensor, float32, shape (N, 3, crop_size, crop_size)
    """
    return normalize(resize_and_crop(frames, crop_size, kernel=kernel), mean, std,
                     rescale_factor)


# --------------------------------------------------------------------------- model folder


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelLoadError(f"cannot read {str(path)!r}: {error}") from error
    if not isinstance(value, dict):
        raise ModelLoadError(f"{str(path)!r} does not hold a JSON object")
    return value


def _square_crop(value, where: str) -> int:
    if isinstance(value, dict):
        height, width = value.get("height"), value.get("width", value.get("height"))
        if height != width:
            raise ModelLoadError(f"{where}: only square crops are supported, got {value!r}")
        value = height
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ModelLoadError(f"{where}: crop_size must be a positive int, got {value!r}")
    return value


def _preprocessing(folder: Path, model_config: dict) -> dict:
    """Crop size and normalisation constants of a V-JEPA 2 folder (processor config first)."""
    processor, where = {}, str(folder)
    for name in _PREPROCESSOR_FILES:
        if (folder / name).is_file():
            processor = _read_json(folder / name)
            where = str(folder / name)
            break
    for flag in ("do_resize", "do_center_crop", "do_rescale", "do_normalize"):
        if processor.get(flag) is False:
            raise ModelLoadError(f"{where}: {flag} is false; berg reproduces the V-JEPA 2 "
                                 "processor's full pipeline (resize, crop, rescale, normalise)")
    if processor.get("resample", _BILINEAR) != _BILINEAR:
        raise ModelLoadError(f"{where}: resample={processor['resample']!r} is not bilinear "
                             f"({_BILINEAR}), the only resampling berg reproduces")
    if "crop_size" in processor:
        crop = _square_crop(processor["crop_size"], where)
    elif "crop_size" in model_config:
        crop = _square_crop(model_config["crop_size"], str(folder / "config.json"))
    else:
        crop = 256  # VJEPA2VideoProcessor's default
    stats = {}
    for key, default in (("image_mean", IMAGENET_MEAN), ("image_std", IMAGENET_STD)):
        value = processor.get(key, default)
        if isinstance(value, (int, float)):
            value = [value] * 3
        if not (isinstance(value, (list, tuple)) and len(value) == 3
                and all(isinstance(v, (int, float)) for v in value)):
            raise ModelLoadError(f"{where}: {key} must be 3 numbers, got {value!r}")
        stats[key] = tuple(float(v) for v in value)
    if min(stats["image_std"]) <= 0:
        raise ModelLoadError(f"{where}: image_std must be positive, got {stats['image_std']}")
    rescale = processor.get("rescale_factor", 1 / 255)
    if not isinstance(rescale, (int, float)) or rescale <= 0:
        raise ModelLoadError(f"{where}: rescale_factor must be a positive number, "
                             f"got {rescale!r}")
    return {"crop_size": crop, "mean": stats["image_mean"], "std": stats["image_std"],
            "rescale_factor": float(rescale)}


# --------------------------------------------------------------------------- extractor


class VideoFeatureExtractor(ModelHolder):
    """Per-bin V-JEPA 2 features of video chunks, as TRIBE v2 was trained on them.

    Parameters
    ----------
    model_dir : path
        A local transformers folder of a ``VJEPA2Model`` (``config.json``, weights, and
        ``video_preprocessor_config.json``), e.g. a Hub snapshot of
        ``facebook/vjepa2-vitg-fpc64-256``. The config files are read now; the weights on
        first use.
    device : str or torch.device
        Where the model runs ('cpu', 'cuda', 'cuda:N', 'auto'); frames are resized there too.
    dtype : torch.dtype
        Precision of the model, set explicitly (float32 reproduces the reference; a folder
        saved in bfloat16 is upcast). Features are float32 in any case.
    layers : LayerSelection
        Which hidden states are averaged into the layer groups.
    batch_size : int or None
        Clips per forward pass (``decode="once"``). None (default): as many as fit in
        ``memory_budget`` (:mod:`berg.features.budget`), at most 16; a clip of ViT-g costs
        about 0.4 GB in bfloat16 and 0.7 GB in float32 (its pixels, 50 MB in float32, and the
        activations of one block, estimated as ``(6 + 2 * mlp_ratio) x tokens x width``
        numbers with SDPA attention).
    memory_budget : int, optional
        Bytes of activations a batch may use; None: automatic (a share of the free GPU
        memory up to 4 GiB, or 512 MiB on the CPU).
    decode_ahead : int or None
        Frames decoded and converted to RGB by a background thread ahead of the clips being
        run, so that FFmpeg works while the model does. None (default): 64 when the model
        runs on a GPU, 0 on the CPU, where the model's threads already use every core (a
        decoding thread beside them only makes both wait for each other: measured 30 %
        slower on 2 cores). 0: decode in the calling thread.
    decode : {'once', 'per-clip'}
        ``once``: each chunk decoded in one pass, each frame preprocessed once, clips
        batched. ``per-clip``: the reference's way (each clip's 64 frames decoded and
        preprocessed on their own, one clip per forward pass), a baseline for benchmarks
        and tests. Both give the same features up to float rounding.
    resize_kernel : {'float', 'uint8'}
        Which of torchvision's code paths the frame resize follows (:func:`resize_and_crop`):
        the reference's processor took one or the other depending on its CPU and torchvision
        version. ``uint8`` resizes on the CPU.
    """

    def __init__(self, model_dir: str | os.PathLike, *, device="cpu", dtype=torch.float32,
                 layers: LayerSelection = LayerSelection(), batch_size: int | None = None,
                 memory_budget: int | None = None, decode_ahead: int | None = None,
                 decode: str = "once", resize_kernel: str = "float"):
        from berg.devices import resolve_device

        dtype = check_extractor_options(model_dir, dtype, layers)
        if batch_size is not None and (isinstance(batch_size, bool)
                                       or not isinstance(batch_size, int) or batch_size < 1):
            raise InvalidParameterError(f"batch_size must be None (from the memory budget) or "
                                        f"a positive int, got {batch_size!r}")
        memory_budget = check_budget(memory_budget)
        if decode_ahead is not None and (isinstance(decode_ahead, bool)
                                         or not isinstance(decode_ahead, int)
                                         or decode_ahead < 0):
            raise InvalidParameterError(f"decode_ahead must be None (automatic) or an int >= 0 "
                                        f"(frames), got {decode_ahead!r}")
        if decode not in DECODE_MODES:
            raise InvalidParameterError(f"decode must be one of "
                                        f"{', '.join(map(repr, DECODE_MODES))}, got {decode!r}")
        if resize_kernel not in RESIZE_KERNELS:
            raise InvalidParameterError(f"resize_kernel must be one of "
                                        f"{', '.join(map(repr, RESIZE_KERNELS))}, "
                                        f"got {resize_kernel!r}")
        self.model_dir = Path(os.fspath(model_dir)).expanduser()
        self.device = resolve_device(device)
        self.dtype = dtype
        self.layers = layers
        self.batch_size = batch_size
        self.memory_budget = memory_budget
        self.decode_ahead = (decode_ahead if decode_ahead is not None
                             else _GPU_DECODE_AHEAD if self.device.type == "cuda" else 0)
        self.decode = decode
        self.resize_kernel = resize_kernel
        self.config = self._read_config()
        pre = _preprocessing(self.model_dir, self.config)
        self.crop_size: int = pre["crop_size"]
        self.mean: tuple[float, ...] = pre["mean"]
        self.std: tuple[float, ...] = pre["std"]
        self.rescale_factor: float = pre["rescale_factor"]
        #: Counts of the last `extract` call: chunks, clips, forward passes, distinct RGB
        #: frames handed out by `media.read_frames` and frames resized.
        self.last_stats: dict[str, int] = {}
        self._model = None
        self._fingerprint: dict | None = None

    def __repr__(self) -> str:
        return (f"VideoFeatureExtractor({str(self.model_dir)!r}, device={str(self.device)!r}, "
                f"dtype={self.dtype}, decode={self.decode!r}, batch_size={self.batch_size})")

    # -- loading -----------------------------------------------------------------------------

    def _read_config(self) -> dict:
        check_model_folder(self.model_dir, "video", "a V-JEPA 2 model")
        path = self.model_dir / "config.json"
        config = _read_json(path)
        if config.get("model_type") != "vjepa2":
            raise ModelLoadError(f"{str(path)!r} describes a {config.get('model_type')!r} "
                                 "model; the video extractor needs V-JEPA 2 ('vjepa2')")
        return config

    @property
    def n_layers(self) -> int:
        """Hidden states the encoder returns (embedding output included): 41 for ViT-g."""
        return int(self.config.get("num_hidden_layers", 24)) + 1

    @property
    def feature_dim(self) -> int:
        """Width of a hidden state (1408 for ViT-g)."""
        return int(self.config.get("hidden_size", 1024))

    @property
    def model(self):
        """The ``VJEPA2Model``, in eval mode, on the device, in ``dtype``."""
        if self._model is None:
            from transformers import VJEPA2Model

            self._model = load_pretrained(VJEPA2Model, self.model_dir, kind="video",
                                          dtype=self.dtype, device=self.device, quiet=True,
                                          check_info=self._check_encoder_weights)
        return self._model

    def _check_encoder_weights(self, info: dict) -> None:
        # transformers fills weights missing from the files with random ones and goes on.
        missing = sorted(k for k in info.get("missing_keys", ()) if k.startswith("encoder."))
        if missing:
            raise ModelLoadError(f"the video model in {str(self.model_dir)!r} lacks "
                                 f"{len(missing)} encoder weights (e.g. {missing[0]!r}): "
                                 "incomplete or not a V-JEPA 2 checkpoint")

    def fingerprint(self) -> dict:
        """Everything that decides the numbers, for the feature cache key.

        Device, decoding mode and batch size change the numbers only by float rounding and
        are left out.
        """
        if self._fingerprint is None:
            import transformers

            layers = self.layers
            self._fingerprint = {
                "extractor": "berg.features.video", "version": _VERSION,
                "model_type": "vjepa2",
                "model_files": folder_digest(self.model_dir),
                "dtype": str(self.dtype).removeprefix("torch."),
                "layers": {"fractions": list(layers.fractions),
                           "aggregation": layers.aggregation,
                           "cache_n_layers": layers.cache_n_layers},
                "clip": {"frames": CLIP_FRAMES, "seconds": CLIP_SECONDS},
                "preprocessing": {"crop_size": self.crop_size, "mean": list(self.mean),
                                  "std": list(self.std),
                                  "rescale_factor": self.rescale_factor,
                                  "resize_kernel": self.resize_kernel},
                "transformers": transformers.__version__,
            }
        return dict(self._fingerprint)

    # -- extraction --------------------------------------------------------------------------

    def extract(self, video_path: str | os.PathLike, chunks: Sequence[Chunk],
                progress: Callable[[float], None] | None = None) -> list[TimedFeature]:
        """Features of each chunk of a video.

        Parameters
        ----------
        video_path : path
            The video file (chunk times are seconds on its timeline).
        chunks : sequence of Chunk
        progress : callable(seconds), optional
            Called after each bin with the seconds of video it covers.

        Returns
        -------
        list of TimedFeature
            One per chunk, ``data`` float32 ``(L, D, n)`` with ``n = max(1, round(2 *
            duration))`` bins, ``L`` layer groups, ``D`` the model width (1408).

        Raises
        ------
        StimulusError
            The file is missing, unreadable or has no video stream.
        ModelLoadError
            The model cannot be loaded.
        """
        chunks = [_check_chunk(c) for c in chunks]
        info = media.probe(video_path)
        if not info.has_video:
            raise StimulusError(f"{str(video_path)!r} has no video stream: video features "
                                "need one")
        if not info.fps:
            raise StimulusError(f"the frame rate of {str(video_path)!r} is unknown")
        stats = {"chunks": len(chunks), "clips": 0, "forward_passes": 0, "frames_read": 0,
                 "frames_resized": 0}
        self.last_stats = stats
        group_indices(self.n_layers, self.layers)  # a bad selection fails before any work
        features = []
        for chunk in chunks:
            indices = clip_frame_indices(chunk, info.fps)
            step = chunk.duration / len(indices)
            bins: dict[int, np.ndarray] = {}

            def emit(ks: list[int], values: torch.Tensor) -> None:
                for k, value in zip(ks, values.cpu().numpy()):
                    bins[k] = value
                    if progress is not None:
                        progress(step)

            if self.decode == "once":
                self._chunk_once(video_path, indices, info.fps, emit, stats)
            else:
                self._chunk_per_clip(video_path, indices, info.fps, emit, stats)
            data = np.stack([bins[k] for k in range(len(indices))], axis=-1)  # (L, D, n)
            features.append(TimedFeature(start=float(chunk.start),
                                         duration=float(chunk.duration),
                                         data=np.ascontiguousarray(data, dtype=np.float32)))
        return features

    def _frames(self, path, times: np.ndarray, stats: dict):
        """``media.read_frames``, counting the frames it hands out as distinct arrays."""
        previous = None
        for i, frame in media.read_frames(path, times):
            if frame is not previous:
                stats["frames_read"] += 1
                previous = frame
            yield i, frame

    def clips_per_batch(self) -> int:
        """Clips per forward pass: ``batch_size``, or as many as the memory budget holds
        (the model is loaded first)."""
        if self.batch_size is not None:
            return self.batch_size
        config = self.config
        tokens = ((CLIP_FRAMES // int(config.get("tubelet_size", 2)))
                  * (self.crop_size // int(config.get("patch_size", 16))) ** 2)
        # Pixels: uint8 -> float32 normalised -> model dtype. Activations of one block with
        # SDPA attention: input, norm, q/k/v, attention output, projection (6 x width) and
        # the MLP's two hidden tensors (2 x mlp_ratio x width), per token.
        pixels = CLIP_FRAMES * 3 * self.crop_size ** 2
        block = (6 + 2 * float(config.get("mlp_ratio", 4.0))) * tokens * self.feature_dim
        return batch_beside_model(
            self, lambda itemsize: pixels * (1 + 4 + itemsize) + block * itemsize,
            most=_MOST_CLIPS)

    def _pixels(self, frames: torch.Tensor) -> torch.Tensor:
        """Resized and cropped uint8 frames ``(..., 3, crop, crop)`` -> normalised model input,
        in the model's dtype."""
        return normalize(_to_device(frames, self.device), self.mean, self.std,
                         self.rescale_factor).to(self.dtype)

    def _prepared_frames(self, path, times: np.ndarray, stats: dict):
        """``(i, (3, crop, crop) model input on the device)`` for each of ``times``, in
        order; the frames of one decoding pass, each distinct picture resized and
        normalised once (a frame is in up to 8 clips).

        With ``decode_ahead``, decoding and the RGB conversion (FFmpeg, which releases the
        GIL) run in a background thread; the resize stays in this one, where torch's
        threads already are.
        """
        frames = self._frames(path, times, stats)
        if self.decode_ahead:
            frames = Prefetcher(frames, depth=self.decode_ahead, name="berg-video-decode")
        previous = tensor = None
        with contextlib.closing(frames):
            for i, frame in frames:
                if frame is not previous:  # the same picture for several indices: resize once
                    tensor = self._pixels(resize_and_crop(frame[None], self.crop_size,
                                                          self.device, self.resize_kernel)[0])
                    stats["frames_resized"] += 1
                    previous = frame
                yield i, tensor

    def _chunk_once(self, path, indices: np.ndarray, fps: float, emit, stats: dict) -> None:
        """One decoding pass for all clips of a chunk, each frame resized once, batched.

        On a GPU the forward passes run asynchronously: a batch's results are read (which
        waits for them) only once the next batch has been queued, so the device computes
        while this thread decodes and resizes the frames of the batch after.
        """
        unique, inverse = np.unique(indices, return_inverse=True)
        positions = inverse.reshape(indices.shape)  # (n_bins, 64) into `unique`
        last_needed = positions[:, -1]  # a clip is ready once its last frame is in
        n_bins = len(positions)
        batch_size = stats["batch_size"] = self.clips_per_batch()
        held: dict[int, torch.Tensor] = {}
        pending: list[int] = []
        ready = 0  # bins [0, ready) are pending or done
        in_flight: list = []  # the (bins, features) of the batch queued last

        def run() -> None:
            clips = torch.stack([torch.stack([held[p] for p in positions[k]])
                                 for k in pending])  # (B, 64, 3, c, c) model input
            in_flight.append((list(pending), self._clip_features(clips, stats)))
            if len(in_flight) > 1:
                emit(*in_flight.pop(0))
            pending.clear()
            # Frames before the first one a remaining clip needs are done with.
            first = positions[ready, 0] if ready < n_bins else len(unique)
            for p in [p for p in held if p < first]:
                del held[p]

        frames = self._prepared_frames(path, _frame_times(unique, fps), stats)
        with contextlib.closing(frames):
            for i, tensor in frames:
                held[i] = tensor
                while ready < n_bins and last_needed[ready] <= i:
                    pending.append(ready)
                    ready += 1
                    if len(pending) == batch_size:
                        run()
        if pending:
            run()
        for batch in in_flight:
            emit(*batch)

    def _chunk_per_clip(self, path, indices: np.ndarray, fps: float, emit,
                        stats: dict) -> None:
        """The reference's way: every clip decoded and preprocessed on its own, batch 1."""
        for k, row in enumerate(indices):
            frames = [None] * len(row)
            for i, frame in self._frames(path, _frame_times(row, fps), stats):
                frames[i] = frame
            clip = resize_and_crop(np.stack(frames), self.crop_size, self.device,
                                   self.resize_kernel)
            stats["frames_resized"] += len(frames)
            emit([k], self._clip_features(self._pixels(clip[None]), stats))

    @torch.inference_mode()
    def _clip_features(self, pixels: torch.Tensor, stats: dict) -> torch.Tensor:
        """Layer-group features of a batch of clips.

        Parameters
        ----------
        pixels : torch.Tensor, shape (B, 64, 3, crop, crop)
            Normalised frames in the model's dtype, on its device (:meth:`_pixels`).

        Returns
        -------
        torch.Tensor, float32, shape (B, L, D), on the device
        """
        encoder = self.model.encoder
        # VJEPA2Model.forward(output_hidden_states=True) keeps every hidden state (2 GB per
        # ViT-g clip); running the blocks here averages each one as soon as it exists. The
        # states are the same: the embedding output, then each block's, before the final
        # LayerNorm (checked against the model's own forward by the tests).
        hidden = encoder.embeddings(pixels)
        means = [hidden.float().mean(dim=1)]
        for block in encoder.layer:
            output = block(hidden, None)
            hidden = output[0] if isinstance(output, tuple) else output
            means.append(hidden.float().mean(dim=1))
        stats["clips"] += len(pixels)
        stats["forward_passes"] += 1
        grouped = select_hidden_states(means, self.layers)  # (L, B, D)
        return grouped.permute(1, 0, 2)
