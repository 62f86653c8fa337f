"""Audio features: w2v-bert-2.0 hidden states of each audio chunk, at 2 Hz.

What the reference computes for one audio chunk (neuralset 0.0.2, ``extractors/audio.py``:
``BaseAudio._get_data`` and ``HuggingFaceAudio._process_wav`` with the ``Wav2VecBert``
model class; ``events/etypes.py``: ``Audio._read``), step by step:

1. **Read.** The chunk is an ``Audio`` event with an ``offset`` (its start in the file) and a
   ``duration``. ``soundfile`` reads ``round(duration * rate)`` samples from sample
   ``round(offset * rate)`` on, at the file's own rate ``rate``, all channels, as
   ``(n, channels)``; fewer when the file ends first. We cut the same samples (same
   Python rounding, same ``int / 32768`` scaling of 16-bit data) out of one front-to-back
   decode of the track (:func:`berg.stimulus.media.iter_audio_blocks`, 10 s blocks, holding
   only what the chunks still need, never the whole file): a decode after a seek is not
   always the same (FFmpeg's AAC decoder draws its noise substitution from a generator that
   runs through the track).
2. **Resample** every channel to the feature extractor's rate (16 kHz) with julius'
   ``ResampleFrac(old_sr, new_sr)`` at its defaults (24 zero crossings, roll-off 0.945):
   a Hann-windowed sinc FIR, edges padded by repeating the first and last samples, output
   length ``floor(n * new_sr / old_sr)``. We call julius itself, on the CPU, in float32.
3. **Average the channels** (after resampling: the order matters only to rounding), then
   **z-score**: ``(x - mean) / (1e-8 + std)`` with torch's unbiased (N - 1) std.
4. **Filter banks.** ``SeamlessM4TFeatureExtractor`` from the model folder's
   ``preprocessor_config.json``: 80-bin Kaldi-style log-mel filter banks (25 ms frames every
   10 ms, so ``1 + (N - 400) // 160`` frames of N samples), each bin normalised over the
   chunk (ddof 1, ``+1e-7`` under the root), then pairs of frames stacked into one 160-wide
   vector at 50 Hz. The reference also passes ``do_normalize``, which this extractor
   ignores. Quirk kept: batches are padded to an even frame count, so an odd count gains one
   frame of the padding value (1.0 for w2v-bert-2.0) before stacking, and since the model
   is given no attention mask, that frame takes part in attention and shifts every output a
   little.
5. **Model.** ``Wav2Vec2BertModel`` forward on the whole chunk at once, no attention mask,
   ``output_hidden_states=True`` (25 states for w2v-bert-2.0: the projected input, then each
   of the 24 conformer layers), then the layer groups of :mod:`berg.features.layers`
   (the audio extractor ignores ``cache_n_layers``: every hidden state is kept before
   grouping). Release groups: h12..h17 and h18..h24.
6. **To 2 Hz.** The frame axis (T frames) is resampled to ``n = round(2 * duration)`` bins
   by ``torch.nn.functional.interpolate(mode="nearest")``: bin ``i`` takes frame
   ``floor(i * T / n)`` (computed in float32, as torch does), no averaging; skipped when
   ``n == T``. Result: ``(L, 1024, n)`` per chunk.

Video stimuli. The reference does not read a video's audio track directly: moviepy has the
``ffmpeg`` command line convert it (``-vn -f s16le -acodec pcm_s16le -ar 44100 -ac 2``),
reads those 16-bit samples as floats and writes them to a WAV through its own quantiser,
which clips them to +-0.99 of full scale and truncates (so to +-32440), as long as the
video; the steps above read that WAV. When the source file has a video stream we do the
same: :func:`berg.stimulus.media.pcm.iter_pcm16_blocks` gives the command line's samples bit for
bit (the same FFmpeg decoder and resampler, the track cut where the container says it ends
before resampling, mono spread over both channels and more than two channels mixed down as
FFmpeg does), then they are clipped to +-32440 and padded with silence to the chunk's
length. ``video_audio_rate=None`` reads the track at its own rate instead, as for audio files.

Memory: one chunk at a time (at most ~90 s), one forward pass per chunk. w2v-bert's
relative-position attention builds a ``(T, T, 64)`` tensor per layer (T = 50 per second:
~2.3 GB for 60 s in float32); ``max_seconds_per_forward`` bounds it by running the model on
consecutive pieces of the chunk, which is no longer the reference computation (attention
stops at piece boundaries) and so is part of the cache fingerprint.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from berg.errors import InvalidParameterError, ModelLoadError, StimulusError
from berg.features.layers import LayerSelection, select_hidden_states
from berg.features.loading import (
    ModelHolder,
    check_extractor_options,
    check_model_folder,
    load_config,
    load_pretrained,
)
from berg.features.timed import FEATURE_FREQUENCY, TimedFeature
from berg.files import folder_digest
from berg.stimulus.timeline import Chunk

__all__ = ["AudioFeatureExtractor", "resample_channels", "standardize", "bin_frames",
           "REFERENCE_VIDEO_AUDIO_RATE"]

#: Rate (Hz) of the WAV the reference extracts from a video before reading its audio.
REFERENCE_VIDEO_AUDIO_RATE = 44100
# moviepy's WAV writer clips to +-0.99 and truncates to int16: int(0.99 * 32768) = 32440.
_WAV_PEAK = 32440
# Bump when the numbers this module produces change for the same inputs.
_VERSION = 2
# The Kaldi filter banks the feature extractor computes: 25 ms windows every 10 ms at 16 kHz.
_FBANK_WINDOW = 400
_FBANK_HOP = 160
_MODEL_TYPE = "wav2vec2-bert"
# Seconds of audio decoded at a time while the chunks are cut out of the track.
_BLOCK_SECONDS = 10.0


# --------------------------------------------------------------------------- signal steps


@functools.lru_cache(maxsize=8)
def _resampler(old_rate: int, new_rate: int):
    import julius

    return julius.resample.ResampleFrac(old_rate, new_rate)


def resample_channels(samples, old_rate: int, new_rate: int):
    """Resample each channel as the reference does (julius ``ResampleFrac``, defaults).

    Parameters
    ----------
    samples : torch.Tensor or ndarray, float32, ``(channels, n)``
    old_rate, new_rate : int
        Hz.

    Returns
    -------
    torch.Tensor, float32, ``(channels, floor(n * new_rate / old_rate))``, on the CPU.
    """
    import torch

    x = torch.as_tensor(samples, dtype=torch.float32).cpu()
    return _resampler(int(old_rate), int(new_rate))(x)


def standardize(samples):
    """Mean over channels, then ``(x - mean) / (1e-8 + std)`` with the unbiased std.

    Parameters
    ----------
    samples : torch.Tensor, float32, ``(channels, n)``

    Returns
    -------
    torch.Tensor, float32, ``(n,)``
    """
    mono = samples.mean(dim=0)
    return (mono - mono.mean()) / (1e-8 + mono.std())


def bin_frames(frames, n_bins: int):
    """Nearest-frame resampling of the last axis to ``n_bins``, as the reference does.

    Bin ``i`` takes frame ``floor(i * T / n_bins)`` (torch's ``interpolate(mode="nearest")``,
    which computes the ratio in float32); the frames are returned as they are when
    ``T == n_bins``.

    Parameters
    ----------
    frames : torch.Tensor, ``(L, D, T)``
    n_bins : int

    Returns
    -------
    torch.Tensor, ``(L, D, n_bins)``
    """
    import torch.nn.functional as F

    if frames.shape[-1] == n_bins:
        return frames
    return F.interpolate(frames, size=n_bins, mode="nearest")


def _n_bins(duration: float) -> int:
    return max(1, round(FEATURE_FREQUENCY * duration))


def _reference_wav_blocks(source, rate: int) -> Iterator[tuple[float, np.ndarray]]:
    """A video's sound as the reference's WAV holds it, block by block: float32 ``(2, n)``.

    The ``ffmpeg`` command line's 16-bit stereo samples, through moviepy's quantiser (clip
    to +-32440), read back as ``int / 32768``.
    """
    from berg.stimulus.media import pcm

    blocks = pcm.iter_pcm16_blocks(source, rate, 2, block_seconds=_BLOCK_SECONDS)
    with contextlib.closing(blocks):
        for start, block in blocks:
            clipped = np.clip(block, -_WAV_PEAK, _WAV_PEAK)
            yield start, clipped.astype(np.float32) / np.float32(32768)


def _padded(samples: np.ndarray, length: int) -> np.ndarray:
    """The reference's WAV lasts as long as the video: silence where the track stops early."""
    if samples.shape[1] < length:
        samples = np.pad(samples, ((0, 0), (0, length - samples.shape[1])))
    return samples


def _chunk_samples(blocks: Iterator[tuple[float, np.ndarray]], rate: int,
                   chunks: Sequence[Chunk],
                   channels: int) -> Iterator[tuple[int, np.ndarray]]:
    """``(index, samples (channels, n))`` of each chunk, in order of start.

    Chunk ``[s, s + d)`` gets samples ``round(s * rate)`` to ``round(s * rate) + round(d *
    rate)`` of the whole track (fewer at its end), as the reference reads them. ``blocks``
    is the track decoded once, front to back; only what the chunks still need is held: the
    samples are those of a decode from the start, which a seek does not always reproduce
    (AAC's noise substitution draws from a generator that runs through the whole track).
    """
    order = sorted(range(len(chunks)), key=lambda i: chunks[i].start)
    held: list[np.ndarray] = []
    held_from = held_to = 0  # sample indices of the first held sample and one past the last
    with contextlib.closing(blocks):
        for i in order:
            first = round(chunks[i].start * rate)
            last = first + round(chunks[i].duration * rate)
            while held and held_from + held[0].shape[1] <= first:
                held_from += held.pop(0).shape[1]
            while held_to < last:
                block = next(blocks, None)
                if block is None:
                    break
                data = block[1]
                if not held and held_to + data.shape[1] <= first:
                    held_from = held_to = held_to + data.shape[1]
                    continue
                held.append(data)
                held_to += data.shape[1]
            span = (np.concatenate(held, axis=1)[:, max(0, first - held_from):last - held_from]
                    if held else np.zeros((channels, 0), np.float32))
            yield i, span


# --------------------------------------------------------------------------- the extractor


class AudioFeatureExtractor(ModelHolder):
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

    _released_with_model = ("_feature_extractor",)  # dropped by close() with the model

    def __init__(self, model_dir: str | os.PathLike, *, device="cpu", dtype=None,
                 layers: LayerSelection = LayerSelection(),
                 max_seconds_per_forward: float | None = None,
                 video_audio_rate: int | None = REFERENCE_VIDEO_AUDIO_RATE,
                 fast_relative_attention: bool = True):
        from berg.devices import resolve_device

        dtype = check_extractor_options(model_dir, dtype, layers)
        if max_seconds_per_forward is not None and not (
                isinstance(max_seconds_per_forward, (int, float))
                and not isinstance(max_seconds_per_forward, bool)
                and math.isfinite(max_seconds_per_forward) and max_seconds_per_forward > 0):
            raise InvalidParameterError(f"max_seconds_per_forward must be None or a positive "
                                        f"number of seconds, got {max_seconds_per_forward!r}")
        if video_audio_rate is not None and (isinstance(video_audio_rate, bool) or not
                                             isinstance(video_audio_rate, int)
                                             or video_audio_rate < 1):
            raise InvalidParameterError(f"video_audio_rate must be None or a positive int (Hz), "
                                        f"got {video_audio_rate!r}")
        if not isinstance(fast_relative_attention, bool):
            raise InvalidParameterError(f"fast_relative_attention must be True or False, "
                                        f"got {fast_relative_attention!r}")
        self.model_dir = Path(os.fspath(model_dir)).expanduser()
        self.device = resolve_device(device)
        self.dtype = dtype
        self.layers = replace(layers, cache_n_layers=None)
        self.max_seconds_per_forward = max_seconds_per_forward
        self.video_audio_rate = video_audio_rate
        self.fast_relative_attention = fast_relative_attention
        self._model = None
        self._feature_extractor = None
        self._config = None
        self._fingerprint: dict | None = None

    # -- loading -----------------------------------------------------------------------------

    def _check_folder(self) -> None:
        check_model_folder(self.model_dir, "audio", "facebook/w2v-bert-2.0", config_json=False)
        for name, what in (("config.json", "the model config"),
                           ("preprocessor_config.json", "the feature extractor config")):
            if not (self.model_dir / name).is_file():
                raise ModelLoadError(f"audio model folder {str(self.model_dir)!r} has no "
                                     f"{name} ({what}): it must be a transformers folder of "
                                     "a Wav2Vec2BertModel (a Hub snapshot or save_pretrained)")

    @property
    def config(self):
        """The model's transformers config (read without loading the weights)."""
        if self._config is None:
            self._check_folder()
            config = load_config(self.model_dir, "audio")
            if config.model_type != _MODEL_TYPE:
                raise ModelLoadError(f"the audio model in {str(self.model_dir)!r} is a "
                                     f"{config.model_type!r} model; expected {_MODEL_TYPE!r} "
                                     "(facebook/w2v-bert-2.0)")
            self._config = config
        return self._config

    @property
    def feature_extractor(self):
        """The ``SeamlessM4TFeatureExtractor`` of the model folder."""
        if self._feature_extractor is None:
            self._check_folder()
            from transformers import AutoFeatureExtractor

            try:
                extractor = AutoFeatureExtractor.from_pretrained(self.model_dir,
                                                                 local_files_only=True)
            except Exception as error:
                raise ModelLoadError(f"cannot load the audio feature extractor in "
                                     f"{str(self.model_dir)!r} (preprocessor_config.json): "
                                     f"{error}") from error
            if type(extractor).__name__ != "SeamlessM4TFeatureExtractor":
                raise ModelLoadError(f"{str(self.model_dir)!r} has a "
                                     f"{type(extractor).__name__}; expected the "
                                     "SeamlessM4TFeatureExtractor of w2v-bert-2.0")
            self._feature_extractor = extractor
        return self._feature_extractor

    @property
    def model(self):
        """The ``Wav2Vec2BertModel``, in eval mode, on the device, in ``dtype``."""
        if self._model is None:
            self.config  # noqa: B018 - checks the folder and the model type first
            from transformers import Wav2Vec2BertModel

            model = load_pretrained(Wav2Vec2BertModel, self.model_dir, kind="audio",
                                    dtype=self.dtype, device=self.device)
            if self.fast_relative_attention:
                from berg.features.relative_attention import speed_up_relative_attention

                speed_up_relative_attention(model)
            self._model = model
        return self._model

    @property
    def numerics(self) -> dict:
        """How a video's sound is read, for the encode metadata."""
        return {"video_audio": (None if self.video_audio_rate is None else
                                f"the reference's WAV: ffmpeg's 16-bit stereo at "
                                f"{self.video_audio_rate} Hz, clipped to +-32440 as "
                                f"moviepy writes it"),
                "max_seconds_per_forward": self.max_seconds_per_forward}

    @property
    def n_layers(self) -> int:
        """Number of hidden states the model returns (its input projection included)."""
        return int(self.config.num_hidden_layers) + 1

    @property
    def feature_dim(self) -> int:
        """Width of a hidden state (1024 for w2v-bert-2.0)."""
        return int(self.config.hidden_size)

    def fingerprint(self) -> dict:
        """Everything that decides the numbers, for the feature cache key.

        The model folder is identified by content (configs whole, weights by size and
        samples; see :func:`berg.files.folder_digest`). The device changes the
        numbers only by float rounding and is left out.
        """
        if self._fingerprint is None:
            import transformers

            self._check_folder()
            self._fingerprint = {
                "extractor": "berg.features.audio", "version": _VERSION,
                "model_type": self.config.model_type,
                "model_files": folder_digest(self.model_dir),
                "dtype": str(self.dtype).removeprefix("torch."),
                "layers": {"fractions": list(self.layers.fractions),
                           "aggregation": self.layers.aggregation},
                "resampler": "julius.ResampleFrac(zeros=24, rolloff=0.945)",
                "max_seconds_per_forward": self.max_seconds_per_forward,
                "video_audio_rate": self.video_audio_rate,
                "transformers": transformers.__version__,
            }
        return dict(self._fingerprint)

    # -- extraction --------------------------------------------------------------------------

    def extract(self, audio_source: str | os.PathLike, chunks: Sequence[Chunk],
                progress: Callable[[float], None] | None = None) -> list[TimedFeature]:
        """Features of each audio chunk of a file, one chunk at a time.

        Parameters
        ----------
        audio_source : path
            An audio file, or a video file with an audio track (read as the reference's
            extracted WAV, see the module notes).
        chunks : sequence of Chunk
            Spans in seconds from the start of the file, each extracted on its own.
        progress : callable(seconds), optional
            Called after each chunk with its duration.

        Returns
        -------
        list of TimedFeature
            One per chunk, with the chunk's start and duration and float32 data
            ``(L, D, n)``, ``n = max(1, round(2 * duration))``.

        Raises
        ------
        StimulusError
            Unreadable file, no audio track, a chunk that starts past the end of the audio
            (of the media, for a video), or one too short for a filter bank (< 35 ms).
        ModelLoadError
            The model folder is missing or incomplete.
        """
        from berg.stimulus import media

        chunks = _check_chunks(chunks)
        if not chunks:
            return []
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
                    f"({end:g} s)")
        self.feature_extractor, self.model  # noqa: B018 - a bad folder fails before decoding
        if as_video:
            rate, channels = self.video_audio_rate, 2
            blocks = _reference_wav_blocks(audio_source, rate)
        else:
            rate, channels = info.audio_sample_rate, info.audio_channels or 1
            blocks = media.iter_audio_blocks(audio_source, None, block_seconds=_BLOCK_SECONDS,
                                             mono=False)
        features: list[TimedFeature | None] = [None] * len(chunks)
        for i, samples in _chunk_samples(blocks, rate, chunks, channels):
            chunk = chunks[i]
            if as_video:
                samples = _padded(samples, round(chunk.duration * rate))
            data = self._chunk_features(samples, rate, source=audio_source, chunk=chunk)
            features[i] = TimedFeature(start=float(chunk.start), duration=float(chunk.duration),
                                       data=data)
            if progress is not None:
                progress(float(chunk.duration))
        return features

    def _chunk_features(self, samples: np.ndarray, rate: int, *, source, chunk: Chunk):
        """Steps 2 to 6 of the module notes for one chunk: float32 ``(L, D, n)``."""
        extractor = self.feature_extractor
        target = int(extractor.sampling_rate)
        n_target = samples.shape[1] * target // rate  # what the resampler will return
        if n_target < _FBANK_WINDOW + _FBANK_HOP:
            raise StimulusError(
                f"audio chunk [{chunk.start:g}, {chunk.end:g}) s of {str(source)!r} holds "
                f"{samples.shape[1]} samples at {rate} Hz ({n_target} at {target} Hz), too few "
                f"for two filter-bank frames ({_FBANK_WINDOW + _FBANK_HOP} at {target} Hz)")
        wav = standardize(resample_channels(samples, rate, target))
        # Padding to an even frame count (padding value, no attention mask) is the
        # extractor's default: kept on purpose, see the module notes.
        inputs = extractor(wav.numpy(), sampling_rate=target, return_tensors="pt")
        input_features = inputs["input_features"]  # (1, T, 160)
        groups = self._forward(input_features)  # (L, T, D)
        frames = groups.transpose(1, 2).float().cpu()  # (L, D, T)
        return bin_frames(frames, _n_bins(chunk.duration)).numpy().astype(np.float32,
                                                                          copy=False)

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
                hidden = model(piece.to(self.device, self.dtype),
                               output_hidden_states=True).hidden_states
                outputs.append(select_hidden_states([h[0] for h in hidden], self.layers))
                del hidden
        return outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=1)


def _check_chunks(chunks) -> list[Chunk]:
    if isinstance(chunks, (str, bytes)) or not isinstance(chunks, Sequence):
        raise InvalidParameterError(f"chunks must be a sequence of Chunk, got {chunks!r}")
    for chunk in chunks:
        start = getattr(chunk, "start", None)
        duration = getattr(chunk, "duration", None)
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                   for v in (start, duration)) or start < 0 or duration <= 0:
            raise InvalidParameterError(
                f"each chunk needs a finite start >= 0 and duration > 0 (seconds), got "
                f"{chunk!r}")
    return list(chunks)
