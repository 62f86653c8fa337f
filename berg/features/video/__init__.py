"""V-JEPA 2 video features, one clip per 0.5 s bin, as the reference computes them.

frames         which frames each clip holds, as the reference's reader (moviepy) gives them
preprocessing  the V-JEPA 2 processor on uint8 frames: resize, centre crop, normalise
resize         the reference's uint8 resize kernel, the same pixels on every device
extractor      VideoFeatureExtractor: one decoding pass per chunk, batched clips
"""

from berg.features.video.extractor import DECODE_MODES, VideoFeatureExtractor
from berg.features.video.frames import (
    CLIP_FRAMES,
    CLIP_SECONDS,
    clip_frame_indices,
    clip_times,
    frames_in_video,
)
from berg.features.video.preprocessing import (
    normalize,
    preprocess_frames,
    resize_and_crop,
    resized_shape,
)
from berg.features.video.resize import RESIZE_KERNELS

__all__ = [
    "CLIP_FRAMES",
    "CLIP_SECONDS",
    "DECODE_MODES",
    "RESIZE_KERNELS",
    "VideoFeatureExtractor",
    "clip_frame_indices",
    "clip_times",
    "frames_in_video",
    "normalize",
    "preprocess_frames",
    "resize_and_crop",
    "resized_shape",
]
