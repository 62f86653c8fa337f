"""``VJEPA2VideoProcessor`` on uint8 frames, as the reference ran it: resize, crop, normalise.

- Resize the shorter side to ``int(crop * 256 / 224)`` (292 for the 256 crop, whatever the
  folder's ``size`` says) and the longer one to ``int(292 * long / short)``, bilinear with
  antialiasing, on the CPU, in uint8: torch's native fixed-point kernel, which rounds to
  uint8 between the horizontal and the vertical pass (:mod:`berg.features.video.resize`, the same
  pixels on every machine and device; ``float`` is an option that is not the reference's).
- Centre crop ``crop x crop`` at offsets ``int((size - crop) / 2)``.
- ``(x - 255 * mean) / (255 * std)`` in float32 (ImageNet mean and std), the way
  transformers fuses rescaling into normalisation.

The crop size and the constants come from the model folder's processor config
(:func:`read_preprocessing`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from berg.errors import InvalidParameterError, ModelLoadError
from berg.features.video.resize import resize
from berg.validation import is_int

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "normalize",
    "preprocess_frames",
    "read_json",
    "read_preprocessing",
    "resize_and_crop",
    "resized_shape",
    "to_device",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_PREPROCESSOR_FILES = ("video_preprocessor_config.json", "preprocessor_config.json")
_BILINEAR = 2  # PIL's code for bilinear resampling, as processor configs store it


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
    if (
        not isinstance(frames, torch.Tensor)
        or frames.dtype != torch.uint8
        or frames.ndim != 4
        or frames.shape[-1] != 3
    ):
        shape = getattr(frames, "shape", None)
        dtype = getattr(frames, "dtype", type(frames).__name__)
        raise InvalidParameterError(
            f"frames must be uint8 RGB of shape (N, H, W, 3), got {dtype} of shape {shape}"
        )
    # Channels first and contiguous, as the processor hands frames to torchvision (a copy
    # in torch is faster than a transposing copy in numpy).
    return frames.permute(0, 3, 1, 2).contiguous()


def to_device(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``x`` on ``device``; a CPU -> GPU copy goes through pinned memory without waiting, so
    it queues behind the model's work instead of stopping this thread until that is done."""
    if device.type == "cuda" and x.device.type == "cpu":
        return x.pin_memory().to(device, non_blocking=True)
    return x.to(device)


def resize_and_crop(frames, crop_size: int, device=None, kernel: str = "uint8") -> torch.Tensor:
    """The processor's resize and centre crop, still in uint8.

    Parameters
    ----------
    frames : ndarray or torch.Tensor, uint8, shape (N, H, W, 3)
        RGB frames.
    crop_size : int
        Side of the square crop (256 for the release).
    device : torch.device, optional
        Where the frames are resized and the result goes; the frames' own device when None.
    kernel : {'uint8', 'float'}
        ``uint8`` (default): the reference's fixed-point kernel, which rounds to uint8
        between its horizontal and vertical passes; the same pixels on any device
        (:mod:`berg.features.video.resize`). ``float``: one float32 interpolation rounded half to
        even; one level off on 10-20 % of the pixels.

    Returns
    -------
    torch.Tensor, uint8, shape (N, 3, crop_size, crop_size)
        Cropped at offsets ``int((size - crop) / 2)``.
    """
    x = _as_uint8_frames(frames)
    device = x.device if device is None else torch.device(device)
    height, width = x.shape[-2:]
    new_h, new_w = resized_shape(height, width, crop_size)
    x = to_device(x, device)
    if (new_h, new_w) != (height, width):  # else torchvision returns the image untouched
        x = resize(x, (new_h, new_w), kernel)
    top = int((new_h - crop_size) / 2.0)
    left = int((new_w - crop_size) / 2.0)
    return x[:, :, top : top + crop_size, left : left + crop_size].contiguous()


def normalize(
    pixels: torch.Tensor, mean=IMAGENET_MEAN, std=IMAGENET_STD, rescale_factor: float = 1 / 255
) -> torch.Tensor:
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


def preprocess_frames(
    frames,
    crop_size: int,
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
    rescale_factor: float = 1 / 255,
    kernel: str = "uint8",
) -> torch.Tensor:
    """``VJEPA2VideoProcessor`` on a stack of frames: resize, centre crop, rescale, normalise.

    Parameters
    ----------
    frames : ndarray or torch.Tensor, uint8, shape (N, H, W, 3)
    crop_size : int
    mean, std : sequence of 3 floats
        Per-channel normalisation (ImageNet's by default).
    rescale_factor : float
    kernel : {'uint8', 'float'}
        The resize's arithmetic (see :func:`resize_and_crop`).

    Returns
    -------
    torch.Tensor, float32, shape (N, 3, crop_size, crop_size)
    """
    return normalize(resize_and_crop(frames, crop_size, kernel=kernel), mean, std, rescale_factor)


def read_json(path: Path) -> dict:
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
    if not is_int(value, minimum=1):
        raise ModelLoadError(f"{where}: crop_size must be a positive int, got {value!r}")
    return value


def read_preprocessing(folder: Path, model_config: dict) -> dict:
    """Crop size and normalisation constants of a V-JEPA 2 folder (processor config first)."""
    processor, where = {}, str(folder)
    for name in _PREPROCESSOR_FILES:
        if (folder / name).is_file():
            processor = read_json(folder / name)
            where = str(folder / name)
            break
    for flag in ("do_resize", "do_center_crop", "do_rescale", "do_normalize"):
        if processor.get(flag) is False:
            raise ModelLoadError(
                f"{where}: {flag} is false; berg reproduces the V-JEPA 2 "
                "processor's full pipeline (resize, crop, rescale, normalise)"
            )
    if processor.get("resample", _BILINEAR) != _BILINEAR:
        raise ModelLoadError(
            f"{where}: resample={processor['resample']!r} is not bilinear "
            f"({_BILINEAR}), the only resampling berg reproduces"
        )
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
        if not (
            isinstance(value, (list, tuple))
            and len(value) == 3
            and all(isinstance(v, (int, float)) for v in value)
        ):
            raise ModelLoadError(f"{where}: {key} must be 3 numbers, got {value!r}")
        stats[key] = tuple(float(v) for v in value)
    if min(stats["image_std"]) <= 0:
        raise ModelLoadError(f"{where}: image_std must be positive, got {stats['image_std']}")
    rescale = processor.get("rescale_factor", 1 / 255)
    if not isinstance(rescale, (int, float)) or rescale <= 0:
        raise ModelLoadError(f"{where}: rescale_factor must be a positive number, got {rescale!r}")
    return {
        "crop_size": crop,
        "mean": stats["image_mean"],
        "std": stats["image_std"],
        "rescale_factor": float(rescale),
    }
