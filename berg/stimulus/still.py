"""An image as a stimulus: a silent still video of a stated duration.

TRIBE v2's paper shows each image of a localiser as a silent static video of 1 s. berg does
the same: the image's pixels (EXIF orientation applied, transparency over black) become
every frame of a lossless video (FFV1, 8-bit RGB, in Matroska), so the video extractor sees
exactly those pixels through the path every video takes (its resize, its clips of 64
frames). The video is an entry of berg's cache (``{cache_dir}/stills``), keyed by the
image's bytes, the duration and the frame rate, and verified when reused.
"""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path

import numpy as np

from berg.errors import InvalidParameterError, StimulusError
from berg.store import ContentStore
from berg.validation import is_number

__all__ = ["MAX_IMAGE_PIXELS", "STILL_FPS", "check_image_duration", "load_image", "still_video"]

#: Frames per second of a still video. Every frame is the same, so the rate changes nothing
#: the model sees; 10 keeps the file small (and below 16 fps, past the last frame the
#: reader repeats it, as for any short video).
STILL_FPS = 10
#: The largest image taken (pixels): a 40-megapixel photograph; larger ones are refused
#: before they are decoded (the video model sees 256 x 256 anyway).
MAX_IMAGE_PIXELS = 40_000_000
#: The longest still (s): images are shown for seconds, not hours.
MAX_IMAGE_DURATION = 3600.0
_VERSION = 1


def check_image_duration(value: object) -> float:
    """``value`` as seconds an image is shown: a number in (0, 3600]."""
    if not is_number(value) or not 0 < float(value) <= MAX_IMAGE_DURATION:
        raise InvalidParameterError(
            f"image_duration must be seconds in (0, {MAX_IMAGE_DURATION:g}], got {value!r} "
            "(the paper shows each localiser image for 1 s)"
        )
    return float(value)


def load_image(path: str | os.PathLike) -> np.ndarray:
    """The image's pixels as a video frame: uint8 (height, width, 3) RGB.

    Raises
    ------
    StimulusError
        Not an image Pillow can read, truncated, or larger than :data:`MAX_IMAGE_PIXELS`.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as image:
            width, height = image.size  # from the header: nothing decoded yet
            if width * height > MAX_IMAGE_PIXELS:
                raise StimulusError(
                    f"image stimulus {str(path)!r} is {width} x {height} pixels, more than "
                    f"{MAX_IMAGE_PIXELS / 1e6:.0f} megapixels; scale it down first (the video "
                    "model sees 256 x 256)"
                )
            image.load()  # a truncated file fails here
            image = ImageOps.exif_transpose(image)
            if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
                background = Image.new("RGB", image.size, (0, 0, 0))
                background.paste(image.convert("RGBA"), mask=image.convert("RGBA").split()[3])
                image = background
            return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()
    except StimulusError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError) as error:
        raise StimulusError(
            f"image stimulus {str(path)!r} cannot be read as an image ({error})"
        ) from error
    except (OSError, ValueError, SyntaxError) as error:  # truncated or damaged data
        raise StimulusError(
            f"image stimulus {str(path)!r} is damaged or truncated ({error})"
        ) from error


def write_still_video(frame: np.ndarray, target: Path, duration: float, fps: int) -> None:
    """Write ``frame`` as every frame of a lossless video of ``duration`` seconds."""
    import av

    height, width = frame.shape[:2]
    n_frames = max(1, math.ceil(duration * fps - 1e-9))  # covers the whole duration
    with av.open(str(target), "w", format="matroska") as container:
        stream = container.add_stream("ffv1", rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "bgr0"  # 8-bit RGB, stored losslessly
        picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
        for index in range(n_frames):
            picture.pts = index
            for packet in stream.encode(picture):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def still_video(
    image_path: str | os.PathLike, cache_dir: str | os.PathLike, duration: float
) -> Path:
    """The still video of an image for ``duration`` seconds, made once and cached.

    Returns
    -------
    Path
        The video in the stills store (a verified cache entry).
    """
    duration = check_image_duration(duration)
    data = Path(image_path).read_bytes()
    recipe = f"v{_VERSION}/{duration!r}s/{STILL_FPS}fps/".encode()
    key = hashlib.sha256(recipe + hashlib.sha256(data).digest()).hexdigest()
    store = ContentStore(Path(cache_dir) / "stills", ".mkv", what="still video")
    cached = store.verified_path(key)
    if cached is not None:
        return cached
    frame = load_image(image_path)  # the errors come before anything is written
    with store.writing(key) as temporary:
        write_still_video(frame, temporary, duration, STILL_FPS)
    return store.path_for(key)
