"""Video features: V-JEPA 2 (``facebook/vjepa2-vitg-fpc64-256``) clips, one per 0.5 s bin.

What the reference computes (neuralset 0.0.2 ``HuggingFaceVideo`` reading frames with
moviepy 2; docs/inference.md, section 5), per video chunk:

- for each 0.5 s bin, a clip of 64 frames over the 4 s that end at the bin's end, picked
  and read as moviepy does (:mod:`berg.features.video.frames`);
- ``VJEPA2VideoProcessor`` on them, in uint8 on the CPU (:mod:`berg.features.video.preprocessing`,
  :mod:`berg.features.video.resize`) -> ``(1, 64, 3, crop, crop)``;
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

Checked against the reference's computation (tests/test_video_reference.py, a 130 s video
in two chunks, the frames from the ``ffmpeg`` command line moviepy runs): the same features
to the last bit on this machine, batched or not. Where berg can still differ:

- 59.94 fps files (moviepy's rounded rate, see :mod:`berg.features.video.frames`);
- ``resize_kernel="float"`` (an option, not the reference): about 1e-3 on the features;
- token means are taken in float32 whatever the model dtype (the reference averaged in the
  model dtype; the same in float32).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from berg.errors import ModelLoadError, StimulusError
from berg.features.budget import batch_beside_model, check_budget
from berg.features.extractor import FeatureExtractor
from berg.features.layers import LayerSelection, group_indices, select_hidden_states
from berg.features.loading import load_pretrained
from berg.features.prefetch import Prefetcher
from berg.features.timed import TimedFeature
from berg.features.video.frames import (
    CLIP_FRAMES,
    CLIP_SECONDS,
    check_chunk,
    clip_frame_indices,
    frame_times,
    frames_in_video,
)
from berg.features.video.preprocessing import (
    normalize,
    read_preprocessing,
    resize_and_crop,
    to_device,
)
from berg.features.video.resize import RESIZE_KERNELS
from berg.stimulus import media
from berg.stimulus.timeline import Chunk
from berg.validation import check_choice, check_int

__all__ = ["DECODE_MODES", "VideoFeatureExtractor"]

#: ``once``: one decoding pass per chunk, batched clips; ``per-clip``: the reference's way.
DECODE_MODES = ("once", "per-clip")
_VERSION = 2  # bump when the computation changes, so cached features are recomputed
_MOST_CLIPS = 16  # per batch when sized by the memory budget
_GPU_DECODE_AHEAD = 64  # frames decoded ahead by a background thread beside a GPU model


# --------------------------------------------------------------------------- extractor


class VideoFeatureExtractor(FeatureExtractor):
    """Per-bin V-JEPA 2 features of video chunks, as TRIBE v2 was trained on them.

    Parameters
    ----------
    model_dir : path
        A local transformers folder of a ``VJEPA2Model`` (``config.json``, weights, and
        ``video_preprocessor_config.json``), e.g. a Hub snapshot of
        ``facebook/vjepa2-vitg-fpc64-256``. The config files are read now; the weights on
        first use.
    device : str or torch.device
        Where the model runs ('cpu', 'cuda', 'cuda:N', 'auto'); frames are resized there too
        (to the same pixels on any device).
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
    resize_kernel : {'uint8', 'float'}
        The frame resize's arithmetic (:func:`resize_and_crop`). ``uint8`` (default) is the
        reference's: torch's native uint8 kernel, as the reference's processor ran it on
        x86 CPUs, reproduced exactly on any device. ``float`` rounds once, after a float32
        interpolation (about 1e-3 off on the features).
    """

    modality = "video"
    model_types = ("vjepa2",)
    expected = (
        "a 'vjepa2' model (V-JEPA 2 of any size: facebook/vjepa2-vitg-fpc64-256 for TRIBE "
        "v2, facebook/vjepa2-vitl-fpc64-256 for TRIBE v2 mini)"
    )
    version = _VERSION
    option_checks = {
        "batch_size": lambda v: check_int("batch_size", v, none="from the memory budget"),
        "memory_budget": check_budget,
        "decode_ahead": lambda v: check_int("decode_ahead", v, minimum=0, none="automatic"),
        "decode": lambda v: check_choice("decode", v, DECODE_MODES),
        "resize_kernel": lambda v: check_choice("resize_kernel", v, RESIZE_KERNELS),
    }

    def __init__(
        self,
        model_dir: str | os.PathLike,
        *,
        device="cpu",
        dtype=torch.float32,
        layers: LayerSelection = LayerSelection(),
        batch_size: int | None = None,
        memory_budget: int | None = None,
        decode_ahead: int | None = None,
        decode: str = "once",
        resize_kernel: str = "uint8",
    ):
        super().__init__(
            model_dir,
            device=device,
            dtype=dtype,
            layers=layers,
            batch_size=batch_size,
            memory_budget=memory_budget,
            decode_ahead=decode_ahead,
            decode=decode,
            resize_kernel=resize_kernel,
        )
        if self.decode_ahead is None:
            self.decode_ahead = _GPU_DECODE_AHEAD if self.device.type == "cuda" else 0
        # The configs are read now, so that a wrong folder fails before any video is read.
        pre = read_preprocessing(self.model_dir, self.config.to_dict())
        self.crop_size: int = pre["crop_size"]
        self.mean: tuple[float, ...] = pre["mean"]
        self.std: tuple[float, ...] = pre["std"]
        self.rescale_factor: float = pre["rescale_factor"]
        # last_stats counts chunks, clips, forward passes, distinct RGB frames handed out by
        # `media.read_frames` and frames resized.

    def __repr__(self) -> str:
        return (
            f"VideoFeatureExtractor({str(self.model_dir)!r}, device={str(self.device)!r}, "
            f"dtype={self.dtype}, decode={self.decode!r}, batch_size={self.batch_size})"
        )

    @property
    def numerics(self) -> dict:
        """The frame choice and the resize arithmetic, for the encode metadata."""
        return {
            "frames": "moviepy 2 (int(fps * t + 1e-5); past the end: the frame read before)",
            "resize_kernel": self.resize_kernel,
            "resize": (
                "uint8 fixed point, rounded between passes (the reference's)"
                if self.resize_kernel == "uint8"
                else "float32, rounded once (not the reference's)"
            ),
        }

    def _build_model(self):
        """The ``VJEPA2Model``, in eval mode, on the device, in ``dtype``."""
        from transformers import VJEPA2Model

        return load_pretrained(
            VJEPA2Model,
            self.model_dir,
            kind="video",
            dtype=self.dtype,
            device=self.device,
            quiet=not self.show_progress,
            check_info=self._check_encoder_weights,
        )

    def _check_encoder_weights(self, info: dict) -> None:
        # transformers fills weights missing from the files with random ones and goes on.
        missing = sorted(k for k in info.get("missing_keys", ()) if k.startswith("encoder."))
        if missing:
            raise ModelLoadError(
                f"the video model in {str(self.model_dir)!r} lacks "
                f"{len(missing)} encoder weights (e.g. {missing[0]!r}): "
                "incomplete or not a V-JEPA 2 checkpoint"
            )

    def _fingerprint_details(self) -> dict:
        # Device, decoding mode and batch size change the numbers only by float rounding.
        return {
            "clip": {"frames": CLIP_FRAMES, "seconds": CLIP_SECONDS},
            "preprocessing": {
                "crop_size": self.crop_size,
                "mean": list(self.mean),
                "std": list(self.std),
                "rescale_factor": self.rescale_factor,
                "resize_kernel": self.resize_kernel,
            },
        }

    # -- a timeline --------------------------------------------------------------------------

    @staticmethod
    def timeline_source(timeline) -> Path:
        return timeline.video_source or timeline.path

    @staticmethod
    def timeline_events(timeline) -> list:
        return [(c.start, c.duration) for c in timeline.video_chunks]

    def extract_timeline(
        self,
        timeline,
        progress: Callable[[float], None] | None = None,
        events: slice = slice(None),
    ) -> list[TimedFeature]:
        """`extract` of the timeline's video chunks (``progress``: seconds done)."""
        return self.extract(
            timeline.video_source or timeline.path,
            timeline.video_chunks[events],
            progress=progress,
        )

    # -- extraction --------------------------------------------------------------------------

    def extract(
        self,
        video_path: str | os.PathLike,
        chunks: Sequence[Chunk],
        progress: Callable[[float], None] | None = None,
    ) -> list[TimedFeature]:
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
        chunks = [check_chunk(c) for c in chunks]
        info = media.probe(video_path)
        if not info.has_video:
            raise StimulusError(f"{str(video_path)!r} has no video stream: video features need one")
        if not info.fps:
            raise StimulusError(f"the frame rate of {str(video_path)!r} is unknown")
        stats = {
            "chunks": len(chunks),
            "clips": 0,
            "forward_passes": 0,
            "frames_read": 0,
            "frames_resized": 0,
        }
        self.last_stats = stats
        group_indices(self.n_layers, self.layers)  # a bad selection fails before any work
        features = []
        n_frames = frames_in_video(info)
        for chunk in chunks:
            indices = clip_frame_indices(chunk, info.fps, n_frames)
            step = chunk.duration / len(indices)
            bins: dict[int, np.ndarray] = {}

            def emit(ks: list[int], values: torch.Tensor, bins=bins, step=step) -> None:
                for k, value in zip(ks, values.cpu().numpy()):
                    bins[k] = value
                    if progress is not None:
                        progress(step)

            if self.decode == "once":
                self._chunk_once(video_path, indices, info.fps, emit, stats)
            else:
                self._chunk_per_clip(video_path, indices, info.fps, emit, stats)
            data = np.stack([bins[k] for k in range(len(indices))], axis=-1)  # (L, D, n)
            features.append(
                TimedFeature(
                    start=float(chunk.start),
                    duration=float(chunk.duration),
                    data=np.ascontiguousarray(data, dtype=np.float32),
                )
            )
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
        tokens = (CLIP_FRAMES // int(config.tubelet_size)) * (
            self.crop_size // int(config.patch_size)
        ) ** 2
        # Pixels: uint8 -> float32 normalised -> model dtype. Activations of one block with
        # SDPA attention: input, norm, q/k/v, attention output, projection (6 x width) and
        # the MLP's two hidden tensors (2 x mlp_ratio x width), per token.
        pixels = CLIP_FRAMES * 3 * self.crop_size**2
        block = (6 + 2 * float(config.mlp_ratio)) * tokens * self.feature_dim
        return batch_beside_model(
            self, lambda itemsize: pixels * (1 + 4 + itemsize) + block * itemsize, most=_MOST_CLIPS
        )

    @property
    def resize_device(self) -> torch.device:
        """Where frames are resized: a CUDA GPU, else the CPU. On an Apple GPU the resize
        stays on the CPU on purpose: its fixed-point kernel leans on integer operations
        that MPS does not all have, and the frames are moved once they are small."""
        return self.device if self.device.type == "cuda" else torch.device("cpu")

    def _pixels(self, frames: torch.Tensor) -> torch.Tensor:
        """Resized and cropped uint8 frames ``(..., 3, crop, crop)`` -> normalised model input,
        in the model's dtype."""
        return normalize(
            to_device(frames, self.device), self.mean, self.std, self.rescale_factor
        ).to(self.dtype)

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
                    tensor = self._pixels(
                        resize_and_crop(
                            frame[None], self.crop_size, self.resize_device, self.resize_kernel
                        )[0]
                    )
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
            clips = torch.stack(
                [torch.stack([held[p] for p in positions[k]]) for k in pending]
            )  # (B, 64, 3, c, c) model input
            in_flight.append((list(pending), self._clip_features(clips, stats)))
            if len(in_flight) > 1:
                emit(*in_flight.pop(0))
            pending.clear()
            # Frames before the first one a remaining clip needs are done with.
            first = positions[ready, 0] if ready < n_bins else len(unique)
            for p in [p for p in held if p < first]:
                del held[p]

        frames = self._prepared_frames(path, frame_times(unique, fps), stats)
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

    def _chunk_per_clip(self, path, indices: np.ndarray, fps: float, emit, stats: dict) -> None:
        """The reference's way: every clip decoded and preprocessed on its own, batch 1."""
        for k, row in enumerate(indices):
            frames = [None] * len(row)
            for i, frame in self._frames(path, frame_times(row, fps), stats):
                frames[i] = frame
            clip = resize_and_crop(
                np.stack(frames), self.crop_size, self.resize_device, self.resize_kernel
            )
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
