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

    signal     resampling, z-scoring, frames to 2 Hz, each chunk's samples (a video's from the
               reference's WAV)
    extractor  AudioFeatureExtractor: filter banks, the model, layer groups
"""

from berg.features.audio.extractor import AudioFeatureExtractor
from berg.features.audio.signal import (
    REFERENCE_VIDEO_AUDIO_RATE,
    bin_frames,
    resample_channels,
    standardize,
)

__all__ = [
    "REFERENCE_VIDEO_AUDIO_RATE",
    "AudioFeatureExtractor",
    "bin_frames",
    "resample_channels",
    "standardize",
]
