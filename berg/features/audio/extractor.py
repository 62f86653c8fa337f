"""AudioFeatureExtractor: w2v-bert-2.0 hidden states of each audio chunk, at 2 Hz (the steps
in :mod:`berg.features.audio`)."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from berg.errors import ModelLoadError, StimulusError
from berg.features.audio.signal import (
    BLOCK_SECONDS,
    REFERENCE_VIDEO_AUDIO_RATE,
    bin_frames,
    check_chunks,
    chunk_samples,
    padded_to,
    reference_wav_blocks,
    resample_channels,
    standardize,
)
from berg.features.extractor import FeatureExtractor
from berg.features.layers import LayerSelection, select_hidden_states
from berg.features.loading import load_pretrained
from berg.features.timed import TimedFeature, n_bins
from berg.stimulus.timeline import Chunk
from berg.validation import check_bool, check_int, check_number

__all__ = ["AudioFeatureExtractor"]


# Bump when the numbers this module produces change for the same inputs.
_VERSION = 2

# The Kaldi filter banks the feature extractor computes: 25 ms windows every 10 ms at 16 kHz.
_FBANK_WINDOW = 400
_FBANK_HOP = 160

_MODEL_TYPE = "wav2vec2-bert"


class AudioFeatureExtractor(FeatureExtractor):
    """w2v-bert-2.0 features of audio chunks, as TRIBE v2 was trained on.

    Parameters
    ----------
    model_dir : path
        A transformers folder with a ``Wav2Vec2BertModel`` (``config.json`` and weights) and
        its ``preprocessor_config.json`` (a ``SeamlessM4TFeatureExtractor``). Nothing is
        loaded until the first extraction.
    device : str or torch.device
        Where the model runs ('cpu', 'cuda', 'cuda:N', 'auto').
    dtype : torch.dtype
        The model's precision; float32 (default) reproduces the reference. Resampling and
        filter banks are always computed in float32 on the CPU, as in the reference.
    layers : LayerSelection
        Which hidden states are averaged into the layer groups. Its ``cache_n_layers`` is
        ignored, as the reference's audio extractor ignores it.
    max_seconds_per_forward : float or None
        None (default, the reference): one forward pass per chunk. A number: chunks longer
        than that run through the model in that many seconds or fewer at a time, to bound
        memory, at the price of numbers that differ from the reference.
    video_audio_rate : int or None
        For a source with a video stream, read its audio as the reference's intermediate
        WAV at this rate (44,100 Hz): 16-bit stereo from FFmpeg's converter, clipped by
        moviepy's quantiser (module notes). None reads every source at its own rate.
    fast_relative_attention : bool
        Compute the relative-position attention bias from its 73 distinct rows
        (:mod:`berg.features.relative_attention`): the same numbers to float rounding, without
        transformers' ``(T, T, 64)`` tensor (2.3 GB and most of the time for a 60 s chunk in
        float32). False runs transformers' own attention, as the reference did.
    """

    modality = "audio"
    model_types = (_MODEL_TYPE,)
    expected = "a Wav2Vec2BertModel (facebook/w2v-bert-2.0)"
    required_files = {
        "config.json": "the model config",
        "preprocessor_config.json": "the feature extractor config",
    }
    version = _VERSION
    option_checks = {
        "max_seconds_per_forward": lambda v: check_number(
            "max_seconds_per_forward", v, positive=True, none="one pass per chunk"
        ),
        "video_audio_rate": lambda v: check_int("video_audio_rate", v, none="the track's own rate"),
        "fast_relative_attention": lambda v: check_bool("fast_relative_attention", v),
    }
    _held = ("_model", "_feature_extractor")  # the feature extractor goes with the model

    def __init__(
        self,
        model_dir: str | os.PathLike,
        *,
        device="cpu",
        dtype=None,
        layers: LayerSelection = LayerSelection(),
        max_seconds_per_forward: float | None = None,
        video_audio_rate: int | None = REFERENCE_VIDEO_AUDIO_RATE,
        fast_relative_attention: bool = True,
    ):
        # The reference's audio extractor ignores cache_n_layers.
        super().__init__(
            model_dir,
            device=device,
            dtype=dtype,
            layers=layers,
            max_seconds_per_forward=max_seconds_per_forward,
            video_audio_rate=video_audio_rate,
            fast_relative_attention=fast_relative_attention,
        )
        self.layers = replace(self.layers, cache_n_layers=None)

    # -- loading -----------------------------------------------------------------------------

    @property
    def feature_extractor(self):
        """The ``SeamlessM4TFeatureExtractor`` of the model folder."""
        if self._feature_extractor is None:
            self._check_folder()
            from transformers import AutoFeatureExtractor

            try:
                extractor = AutoFeatureExtractor.from_pretrained(
                    self.model_dir, local_files_only=True
                )
            except Exception as error:
                raise ModelLoadError(
                    f"cannot load the audio feature extractor in "
                    f"{str(self.model_dir)!r} (preprocessor_config.json): "
                    f"{error}"
                ) from error
            if type(extractor).__name__ != "SeamlessM4TFeatureExtractor":
                raise ModelLoadError(
                    f"{str(self.model_dir)!r} has a "
                    f"{type(extractor).__name__}; expected the "
                    "SeamlessM4TFeatureExtractor of w2v-bert-2.0"
                )
            self._feature_extractor = extractor
        return self._feature_extractor

    def _build_model(self):
        """The ``Wav2Vec2BertModel``, in eval mode, on the device, in ``dtype``."""
        from transformers import Wav2Vec2BertModel

        model = load_pretrained(
            Wav2Vec2BertModel,
            self.model_dir,
            kind="audio",
            dtype=self.dtype,
            device=self.device,
            quiet=not self.show_progress,
        )
        if self.fast_relative_attention:
            from berg.features.relative_attention import speed_up_relative_attention

            speed_up_relative_attention(model)
        return model

    @property
    def numerics(self) -> dict:
        """How a video's sound is read, for the encode metadata."""
        return {
            "video_audio": (
                None
                if self.video_audio_rate is None
                else f"the reference's WAV: ffmpeg's 16-bit stereo at "
                f"{self.video_audio_rate} Hz, clipped to +-32440 as "
                f"moviepy writes it"
            ),
            "max_seconds_per_forward": self.max_seconds_per_forward,
        }

    def _fingerprint_details(self) -> dict:
        # The device changes the numbers only by float rounding.
        return {
            "resampler": "julius.ResampleFrac(zeros=24, rolloff=0.945)",
            "max_seconds_per_forward": self.max_seconds_per_forward,
            "video_audio_rate": self.video_audio_rate,
        }

    # -- a timeline --------------------------------------------------------------------------

    @staticmethod
    def timeline_source(timeline) -> Path:
        return timeline.audio_source

    @staticmethod
    def timeline_events(timeline) -> list:
        return [(c.start, c.duration) for c in timeline.audio_chunks]

    def extract_timeline(
        self,
        timeline,
        progress: Callable[[float], None] | None = None,
        events: slice = slice(None),
    ) -> list[TimedFeature]:
        """`extract` of the timeline's audio chunks (``progress``: seconds done)."""
        return self.extract(timeline.audio_source, timeline.audio_chunks[events], progress=progress)

    def iter_timeline(
        self,
        timeline,
        progress: Callable[[float], None] | None = None,
        events: slice = slice(None),
    ) -> Iterator[TimedFeature]:
        """`iter_extract` of the timeline's audio chunks: the sound is decoded once, front
        to back, for all of them (a piece at a time, each chunk would decode the sound from
        its start again: quadratic in a film's length)."""
        return self.iter_extract(
            timeline.audio_source, timeline.audio_chunks[events], progress=progress
        )

    # -- extraction --------------------------------------------------------------------------

    def extract(
        self,
        audio_source: str | os.PathLike,
        chunks: Sequence[Chunk],
        progress: Callable[[float], None] | None = None,
    ) -> list[TimedFeature]:
        """Features of each audio chunk of a file (those of `iter_extract`), in the order of
        ``chunks``."""
        pairs = list(self._chunk_stream(audio_source, chunks, progress))  # one per chunk
        features: list[TimedFeature | None] = [None] * len(pairs)
        for i, feature in pairs:
            features[i] = feature
        return features

    def iter_extract(
        self,
        audio_source: str | os.PathLike,
        chunks: Sequence[Chunk],
        progress: Callable[[float], None] | None = None,
    ) -> Iterator[TimedFeature]:
        """Features of each audio chunk of a file, one chunk at a time, as each is made.

        Everything is checked, and the model loaded, when this is called; the sound is
        decoded as the features are taken.

        Parameters
        ----------
        audio_source : path
            An audio file, or a video file with an audio track (read as the reference's
            extracted WAV, see the module notes).
        chunks : sequence of Chunk
            Spans in seconds from the start of the file, each extracted on its own.
        progress : callable(seconds), optional
            Called after each chunk with its duration.

        Yields
        ------
        TimedFeature
            One per chunk, in order of start, with the chunk's start and duration and
            float32 data ``(L, D, n)``, ``n = max(1, round(2 * duration))``.

        Raises
        ------
        StimulusError
            Unreadable file, no audio track, a chunk that starts past the end of the audio
            (of the media, for a video), or one too short for a filter bank (< 35 ms).
        ModelLoadError
            The model folder is missing or incomplete.
        """
        return (feature for _, feature in self._chunk_stream(audio_source, chunks, progress))

    def _chunk_stream(self, audio_source, chunks, progress):
        """``(index, feature)`` of each chunk, in order of start (checks done first)."""
        from berg.stimulus import media

        chunks = check_chunks(chunks)
        if not chunks:
            return iter(())
        info = media.probe(audio_source)
        if not info.has_audio:
            raise StimulusError(f"{str(audio_source)!r} has no audio track")
        as_video = info.has_video and self.video_audio_rate is not None
        end = info.duration if as_video else (info.audio_duration or info.duration)
        for chunk in chunks:
            if chunk.start >= end:
                raise StimulusError(
                    f"audio chunk [{chunk.start:g}, {chunk.end:g}) s starts past the end of "
                    f"{'the media' if as_video else 'the audio'} of {str(audio_source)!r} "
                    f"({end:g} s)"
                )
        self.feature_extractor, self.model  # noqa: B018 - a bad folder fails before decoding
        if as_video:
            rate, channels = self.video_audio_rate, 2
            blocks = reference_wav_blocks(audio_source, rate)
        else:
            rate, channels = info.audio_sample_rate, info.audio_channels or 1
            blocks = media.iter_audio_blocks(
                audio_source, None, block_seconds=BLOCK_SECONDS, mono=False
            )
        return self._features(blocks, rate, channels, as_video, chunks, audio_source, progress)

    def _features(self, blocks, rate, channels, as_video, chunks, source, progress):
        """``(index, feature)`` of the chunks from the decoded ``blocks``, in order of
        start."""
        for i, samples in chunk_samples(blocks, rate, chunks, channels):
            chunk = chunks[i]
            if as_video:
                samples = padded_to(samples, round(chunk.duration * rate))
            data = self._chunk_features(samples, rate, source=source, chunk=chunk)
            yield i, TimedFeature(float(chunk.start), float(chunk.duration), data)
            if progress is not None:
                progress(float(chunk.duration))

    def _chunk_features(self, samples: np.ndarray, rate: int, *, source, chunk: Chunk):
        """Steps 2 to 6 of the module notes for one chunk: float32 ``(L, D, n)``."""
        extractor = self.feature_extractor
        target = int(extractor.sampling_rate)
        n_target = samples.shape[1] * target // rate  # what the resampler will return
        if n_target < _FBANK_WINDOW + _FBANK_HOP:
            raise StimulusError(
                f"audio chunk [{chunk.start:g}, {chunk.end:g}) s of {str(source)!r} holds "
                f"{samples.shape[1]} samples at {rate} Hz ({n_target} at {target} Hz), too few "
                f"for two filter-bank frames ({_FBANK_WINDOW + _FBANK_HOP} at {target} Hz)"
            )
        wav = standardize(resample_channels(samples, rate, target))
        # Padding to an even frame count (padding value, no attention mask) is the
        # extractor's default: kept on purpose, see the module notes.
        inputs = extractor(wav.numpy(), sampling_rate=target, return_tensors="pt")
        input_features = inputs["input_features"]  # (1, T, 160)
        groups = self._forward(input_features)  # (L, T, D)
        frames = groups.transpose(1, 2).float().cpu()  # (L, D, T)
        return bin_frames(frames, n_bins(chunk.duration)).numpy().astype(np.float32, copy=False)

    def _forward(self, input_features):
        """Layer groups ``(L, T, D)`` of the model's hidden states for ``(1, T, 160)``."""
        import torch

        model = self.model
        n_frames = input_features.shape[1]
        extractor = self.feature_extractor
        per_second = extractor.sampling_rate / _FBANK_HOP / extractor.stride  # frames per s
        pieces = [input_features]
        if self.max_seconds_per_forward is not None:
            most = max(1, int(self.max_seconds_per_forward * per_second))
            pieces = torch.tensor_split(input_features, math.ceil(n_frames / most), dim=1)
        outputs = []
        with torch.inference_mode():
            for piece in pieces:
                hidden = model(
                    piece.to(self.device, self.dtype), output_hidden_states=True
                ).hidden_states
                outputs.append(select_hidden_states([h[0] for h in hidden], self.layers))
                del hidden
        return outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=1)
