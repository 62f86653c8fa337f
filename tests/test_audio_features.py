"""Audio features (w2v-bert-2.0): shapes, the reference's steps one by one, reading chunks.

A tiny random Wav2Vec2BertModel (3 layers, so 4 hidden states: the release fractions
[0.5, 0.75, 1.0] give the groups [h1] and [h2, h3]) and a SeamlessM4TFeatureExtractor with
w2v-bert-2.0's padding value (1.0) are saved to a folder and loaded through the production
path. Audio files are written at test time.
"""

from __future__ import annotations

import json
import math
import wave

import numpy as np
import pytest
import torch
from media_factory import make_audio, make_video, tone
from reference_ffmpeg import moviepy_wav

from berg.errors import InvalidParameterError, ModelLoadError, StimulusError
from berg.features.audio import AudioFeatureExtractor
from berg.features.layers import LayerSelection
from berg.stimulus.media import read_audio
from berg.stimulus.timeline import Chunk

HIDDEN = 32
GROUPS = ([1], [2, 3])  # hidden states averaged per group, worked out by hand
PAD_VALUE = 1.0  # w2v-bert-2.0's preprocessor_config.json


def _tiny_config(**overrides):
    from transformers import Wav2Vec2BertConfig

    settings = dict(
        hidden_size=HIDDEN,
        num_hidden_layers=3,
        num_attention_heads=8,
        intermediate_size=64,
        feature_projection_input_dim=160,
        conv_depthwise_kernel_size=5,
        left_max_position_embeddings=8,
        right_max_position_embeddings=4,
    )
    settings.update(overrides)
    return Wav2Vec2BertConfig(**settings)


def _save_model(folder, dtype=torch.float32, seed=0):
    from transformers import SeamlessM4TFeatureExtractor, Wav2Vec2BertModel

    torch.manual_seed(seed)
    Wav2Vec2BertModel(_tiny_config()).eval().to(dtype).save_pretrained(folder)
    SeamlessM4TFeatureExtractor(padding_value=PAD_VALUE).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """The tiny model's operations are microseconds long: with several threads, waiting
    for each other costs far more than the work (tens of times, on a busy 2-core machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return _save_model(tmp_path_factory.mktemp("w2v_bert"))


@pytest.fixture(scope="module")
def extractor(model_dir):
    extractor = AudioFeatureExtractor(model_dir)
    yield extractor
    extractor.close()


@pytest.fixture(scope="module")
def media_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("audio")


def _noisy_tone(freq, seconds, rate, seed, amplitude=0.4):
    """A tone that swells and fades, over noise: its filter-bank bins vary in time, as speech
    does (a steady tone has near-constant bins, which the per-bin normalisation divides by
    their tiny spread, turning float32 rounding into visible differences)."""
    rng = np.random.default_rng(seed)
    x = tone(freq, seconds, rate, amplitude)
    t = np.arange(x.shape[0]) / rate
    x = x * (0.55 + 0.45 * np.sin(2 * np.pi * 1.7 * t + seed)).astype(np.float32)
    return np.clip(x + 0.05 * rng.standard_normal(x.shape[0]).astype(np.float32), -1, 1)


@pytest.fixture(scope="module")
def stereo_wav(media_dir):
    """6 s at 44.1 kHz, different left and right channels."""
    samples = np.stack([_noisy_tone(440, 6, 44100, 1), _noisy_tone(1234, 6, 44100, 2, 0.2)])
    return make_audio(media_dir / "stereo.wav", samples, 44100)


@pytest.fixture(scope="module")
def mono_flac(media_dir):
    """5 s at 16 kHz, mono."""
    return make_audio(media_dir / "mono.flac", _noisy_tone(300, 5, 16000, 3), 16000)


def _read_wav(path) -> tuple[np.ndarray, int]:
    """Samples (channels, n) of a 16-bit WAV with the standard library, scaled as soundfile."""
    with wave.open(str(path)) as handle:
        assert handle.getsampwidth() == 2
        data = np.frombuffer(handle.readframes(handle.getnframes()), "<i2")
        samples = data.reshape(-1, handle.getnchannels()).T / 32768.0
        return samples.astype(np.float32), handle.getframerate()


def _span(samples, rate, start, duration):
    """What the reference reads: round(duration * rate) samples from round(start * rate)."""
    first = round(start * rate)
    return samples[:, first : first + round(duration * rate)]


def _by_hand(model_dir, samples, rate, duration, pad_value=PAD_VALUE, model=None):
    """Every step of the reference for one chunk, written out; returns (features, n_fbank)."""
    import julius
    from transformers import SeamlessM4TFeatureExtractor, Wav2Vec2BertModel

    x = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))
    if rate != 16000:
        x = julius.resample.ResampleFrac(rate, 16000)(x)
    x = x.mean(dim=0)
    n = x.numel()
    std = torch.sqrt(((x - x.mean()) ** 2).sum() / (n - 1))  # unbiased
    # Frames where sound fades into silence hold tiny values whose log-energies magnify any
    # rounding difference: the z-score must round as the reference's does (torch's own mean
    # and std, whose unbiased value the formula above checks).
    assert torch.isclose(std, x.std(), rtol=1e-5)
    x = (x - x.mean()) / (1e-8 + x.std())

    fbank = SeamlessM4TFeatureExtractor.from_pretrained(model_dir)._extract_fbank_features(
        x.numpy()
    )
    n_fbank = fbank.shape[0]
    assert n_fbank == 1 + (n - 400) // 160
    fbank = (fbank - fbank.mean(0)) / np.sqrt(fbank.var(0, ddof=1) + 1e-7)
    if n_fbank % 2:  # the padding quirk: one frame of the padding value, no attention mask
        fbank = np.concatenate([fbank, np.full((1, fbank.shape[1]), pad_value)])
    inputs = torch.from_numpy(fbank.reshape(1, -1, 2 * fbank.shape[1]).astype(np.float32))

    model = model or Wav2Vec2BertModel.from_pretrained(model_dir).eval()
    with torch.no_grad():
        states = model(inputs, output_hidden_states=True).hidden_states
    assert len(states) == 4
    groups = torch.stack([sum(states[i][0] for i in g) / len(g) for g in GROUPS])  # (L, T, D)
    groups = groups.transpose(1, 2)
    frames = groups.shape[-1]
    n_bins = round(2 * duration)
    # floor(i * T / n), with the ratio in float32 as torch's nearest interpolation has it
    scale = np.float32(frames) / np.float32(n_bins)
    index = [min(int(np.floor(np.float32(i) * scale)), frames - 1) for i in range(n_bins)]
    return groups[:, :, index].numpy(), n_fbank


# --------------------------------------------------------------------------- shapes


def test_one_feature_per_chunk_with_the_chunk_times_and_2hz_bins(extractor, stereo_wav):
    seen = []
    features = extractor.extract(
        stereo_wav, [Chunk(0.0, 3.0), Chunk(3.0, 2.26)], progress=seen.append
    )
    assert [f.data.shape for f in features] == [(2, HIDDEN, 6), (2, HIDDEN, 5)]  # round(4.52)
    assert [(f.start, f.duration) for f in features] == [(0.0, 3.0), (3.0, 2.26)]
    assert all(f.data.dtype == np.float32 and np.isfinite(f.data).all() for f in features)
    assert seen == [3.0, 2.26]
    assert extractor.n_layers == 4 and extractor.feature_dim == HIDDEN


def test_a_61_second_chunk_gives_122_bins(model_dir, media_dir):
    path = make_audio(media_dir / "long.flac", _noisy_tone(200, 62, 16000, 4), 16000)
    # Pieces of 10 s keep the tiny model's attention cheap; the shape rule is the same.
    extractor = AudioFeatureExtractor(model_dir, max_seconds_per_forward=10.0)
    (feature,) = extractor.extract(path, [Chunk(0.5, 61.0)])
    assert feature.data.shape == (2, HIDDEN, 122)
    assert np.isfinite(feature.data).all()


# --------------------------------------------------------------------------- exactness


def test_equals_the_reference_steps_done_by_hand(extractor, model_dir, stereo_wav):
    start, duration = 1.37, 2.26
    (feature,) = extractor.extract(stereo_wav, [Chunk(start, duration)])
    samples, rate = _read_wav(stereo_wav)
    expected, _ = _by_hand(model_dir, _span(samples, rate, start, duration), rate, duration)
    np.testing.assert_allclose(feature.data, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("duration, odd", [(2.01, True), (2.0, False)])
def test_odd_fbank_frame_counts_gain_one_padding_frame(
    extractor, model_dir, mono_flac, duration, odd
):
    whole = read_audio(mono_flac, None, mono=False)  # FLAC is lossless: the file's samples
    start = 1.0
    (feature,) = extractor.extract(mono_flac, [Chunk(start, duration)])
    span = _span(whole, 16000, start, duration)
    expected, n_fbank = _by_hand(model_dir, span, 16000, duration)
    assert (n_fbank % 2 == 1) is odd  # 32160 samples -> 199 frames; 32000 -> 198
    np.testing.assert_allclose(feature.data, expected, atol=1e-5, rtol=0)
    if odd:
        # The padded frame is seen by the model: another padding value changes every bin.
        other, _ = _by_hand(model_dir, span, 16000, duration, pad_value=0.0)
        assert np.abs(other - feature.data).max() > 1e-3


def test_a_chunk_reads_its_own_samples_wherever_it_starts(extractor, media_dir):
    rate = 44100
    first = np.stack([_noisy_tone(330, 3, rate, 5), _noisy_tone(550, 3, rate, 6)])
    second = np.stack([_noisy_tone(880, 3, rate, 7), _noisy_tone(220, 3, rate, 8)])
    both = make_audio(media_dir / "halves.wav", np.concatenate([first, second], 1), rate)
    alone = make_audio(media_dir / "second_half.wav", second, rate)
    a, b = extractor.extract(both, [Chunk(0.0, 3.0), Chunk(3.0, 3.0)])
    (reference,) = extractor.extract(alone, [Chunk(0.0, 3.0)])
    # The reference resamples each chunk on its own, edges included: equal, not just close.
    np.testing.assert_allclose(b.data, reference.data, atol=1e-6, rtol=0)
    assert np.abs(a.data - b.data).max() > 1e-2


def test_chunks_in_any_order_get_the_same_features(extractor, stereo_wav):
    chunks = [Chunk(0.0, 2.0), Chunk(2.0, 2.5), Chunk(4.5, 1.5)]
    forward = extractor.extract(stereo_wav, chunks)
    backward = extractor.extract(stereo_wav, chunks[::-1])
    for f, b in zip(forward, backward[::-1]):
        assert (f.start, f.duration) == (b.start, b.duration)
        np.testing.assert_array_equal(f.data, b.data)


def test_channels_are_averaged_after_resampling(extractor, media_dir):
    rate = 22050
    left, right = _noisy_tone(440, 3, rate, 9), _noisy_tone(990, 3, rate, 10)
    twin = make_audio(media_dir / "twin.wav", np.stack([left, left]), rate)
    mono = make_audio(media_dir / "left.wav", left, rate)
    pair = make_audio(media_dir / "pair.wav", np.stack([left, right]), rate)
    chunk = [Chunk(0.0, 3.0)]
    (twin_f,), (mono_f,), (pair_f,) = (extractor.extract(p, chunk) for p in (twin, mono, pair))
    np.testing.assert_allclose(twin_f.data, mono_f.data, atol=1e-6, rtol=0)
    # Both channels count (the feature extractor alone would keep only the left one).
    assert np.abs(pair_f.data - mono_f.data).max() > 1e-2


# --------------------------------------------------------------------------- video sources


def test_a_video_is_read_as_the_reference_wav(extractor, model_dir, media_dir):
    rate = 48000
    track = np.stack([_noisy_tone(440, 4, rate, 11), _noisy_tone(660, 4, rate, 12, 0.2)])
    video = make_video(media_dir / "clip.mp4", 6.0, audio=track, audio_rate=rate)  # audio: 4 s
    chunks = [Chunk(0.0, 3.0), Chunk(3.0, 3.0)]
    features = extractor.extract(video, chunks)
    # The reference's WAV, made by FFmpeg's command line and moviepy's quantiser: 44.1 kHz,
    # 16-bit stereo, silence after the track, as long as the video.
    wav = moviepy_wav(video, 6 * 44100).astype(np.float32)
    for feature, chunk in zip(features, chunks):
        expected, _ = _by_hand(
            model_dir, _span(wav, 44100, chunk.start, chunk.duration), 44100, chunk.duration
        )
        np.testing.assert_allclose(feature.data, expected, atol=1e-5, rtol=0)
    # Reading the track at its own rate (48 kHz) is another computation.
    native = AudioFeatureExtractor(model_dir, video_audio_rate=None).extract(video, chunks[:1])
    assert np.abs(native[0].data - features[0].data).max() > 1e-5


# --------------------------------------------------------------------------- settings


def test_dtype_is_the_one_asked_for_not_the_saved_one(tmp_path, stereo_wav):
    folder = _save_model(tmp_path / "bf16", dtype=torch.bfloat16)
    saved = json.loads((folder / "config.json").read_text())
    assert "bfloat16" in (saved.get("dtype"), saved.get("torch_dtype"))
    fp32 = AudioFeatureExtractor(folder, dtype=torch.float32)
    assert {p.dtype for p in fp32.model.parameters()} == {torch.float32}
    bf16 = AudioFeatureExtractor(folder, dtype=torch.bfloat16)
    assert {p.dtype for p in bf16.model.parameters()} == {torch.bfloat16}
    chunk = [Chunk(0.0, 2.0)]
    a, b = fp32.extract(stereo_wav, chunk)[0].data, bf16.extract(stereo_wav, chunk)[0].data
    assert a.dtype == b.dtype == np.float32
    assert 0 < np.abs(a - b).max() < 0.1 * np.abs(a).max()


def test_layer_groups_follow_the_selection_and_ignore_cache_n_layers(
    model_dir, stereo_wav, extractor
):
    chunk = [Chunk(0.0, 2.0)]
    (default,) = extractor.extract(stereo_wav, chunk)
    (mean,) = AudioFeatureExtractor(model_dir, layers=LayerSelection(aggregation="mean")).extract(
        stereo_wav, chunk
    )
    assert mean.data.shape == (1, HIDDEN, 4)
    # mean of h1, h2, h3 = (1 * group0 + 2 * group1) / 3
    np.testing.assert_allclose(
        mean.data[0], (default.data[0] + 2 * default.data[1]) / 3, atol=1e-5, rtol=0
    )
    (sub,) = AudioFeatureExtractor(model_dir, layers=LayerSelection(cache_n_layers=2)).extract(
        stereo_wav, chunk
    )
    np.testing.assert_array_equal(sub.data, default.data)


def test_pieces_longer_than_the_chunk_change_nothing(model_dir, stereo_wav, extractor):
    chunk = [Chunk(0.5, 3.0)]
    (whole,) = extractor.extract(stereo_wav, chunk)
    (same,) = AudioFeatureExtractor(model_dir, max_seconds_per_forward=5.0).extract(
        stereo_wav, chunk
    )
    (cut,) = AudioFeatureExtractor(model_dir, max_seconds_per_forward=1.0).extract(
        stereo_wav, chunk
    )
    np.testing.assert_array_equal(same.data, whole.data)
    assert cut.data.shape == whole.data.shape
    assert np.abs(cut.data - whole.data).max() > 1e-4


def test_fingerprint_names_what_changes_the_numbers_without_loading(model_dir):
    extractor = AudioFeatureExtractor(model_dir)
    fingerprint = extractor.fingerprint()
    assert extractor._model is None
    assert json.loads(json.dumps(fingerprint)) == fingerprint
    assert extractor.fingerprint() == fingerprint
    assert fingerprint["model_type"] == "wav2vec2-bert" and fingerprint["dtype"] == "float32"
    others = [
        AudioFeatureExtractor(model_dir, dtype=torch.bfloat16),
        AudioFeatureExtractor(model_dir, layers=LayerSelection((0.0, 1.0))),
        AudioFeatureExtractor(model_dir, max_seconds_per_forward=30.0),
        AudioFeatureExtractor(model_dir, video_audio_rate=None),
    ]
    assert all(other.fingerprint() != fingerprint for other in others)
    # cache_n_layers does not change the audio numbers, so not the fingerprint either
    assert (
        AudioFeatureExtractor(model_dir, layers=LayerSelection(cache_n_layers=2)).fingerprint()
        == fingerprint
    )


def test_fingerprint_follows_the_weights(tmp_path, model_dir):
    other = _save_model(tmp_path / "other", seed=1)
    assert (
        AudioFeatureExtractor(other).fingerprint()["model_files"]
        != AudioFeatureExtractor(model_dir).fingerprint()["model_files"]
    )


# --------------------------------------------------------------------------- errors


def test_missing_or_incomplete_model_folders_raise_model_load_error(tmp_path, stereo_wav):
    chunk = [Chunk(0.0, 1.0)]
    missing = AudioFeatureExtractor(tmp_path / "nowhere")  # lazy: nothing read yet
    with pytest.raises(ModelLoadError, match="does not exist"):
        missing.extract(stereo_wav, chunk)
    with pytest.raises(ModelLoadError):
        missing.fingerprint()
    no_preprocessor = tmp_path / "no_preprocessor"
    _tiny_config().save_pretrained(no_preprocessor)
    with pytest.raises(ModelLoadError, match="preprocessor_config.json"):
        AudioFeatureExtractor(no_preprocessor).extract(stereo_wav, chunk)
    no_weights = tmp_path / "no_weights"
    _tiny_config().save_pretrained(no_weights)
    from transformers import SeamlessM4TFeatureExtractor

    SeamlessM4TFeatureExtractor().save_pretrained(no_weights)
    with pytest.raises(ModelLoadError, match="cannot load the audio model"):
        AudioFeatureExtractor(no_weights).extract(stereo_wav, chunk)
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    (wrong / "config.json").write_text(json.dumps({"model_type": "bert"}))
    SeamlessM4TFeatureExtractor().save_pretrained(wrong)
    with pytest.raises(ModelLoadError, match="wav2vec2-bert"):
        AudioFeatureExtractor(wrong).extract(stereo_wav, chunk)


def test_chunks_past_the_end(extractor, model_dir, mono_flac):
    with pytest.raises(StimulusError, match="past the end"):
        extractor.extract(mono_flac, [Chunk(5.5, 1.0)])
    with pytest.raises(StimulusError, match="too few"):
        extractor.extract(mono_flac, [Chunk(4.99, 1.0)])
    # Running past the end: what the file holds is used, the bins follow the chunk.
    (feature,) = extractor.extract(mono_flac, [Chunk(4.0, 2.0)])
    assert feature.data.shape == (2, HIDDEN, 4)
    whole = read_audio(mono_flac, None, mono=False)
    expected, _ = _by_hand(model_dir, whole[:, 4 * 16000 :], 16000, 2.0)
    np.testing.assert_allclose(feature.data, expected, atol=1e-5, rtol=0)


def test_bad_arguments(model_dir, extractor, mono_flac):
    for kwargs in (
        {"dtype": torch.int32},
        {"layers": (0.5, 1.0)},
        {"max_seconds_per_forward": 0},
        {"max_seconds_per_forward": math.inf},
        {"video_audio_rate": 0},
        {"device": "tpu"},
    ):
        with pytest.raises(InvalidParameterError):
            AudioFeatureExtractor(model_dir, **kwargs)
    with pytest.raises(InvalidParameterError):
        AudioFeatureExtractor(42)
    for chunks in ("0-1", [Chunk(-1.0, 1.0)], [Chunk(0.0, 0.0)], [(0.0, 1.0)]):
        with pytest.raises(InvalidParameterError):
            extractor.extract(mono_flac, chunks)
    assert extractor.extract(mono_flac, []) == []
    with pytest.raises(StimulusError):
        extractor.extract(mono_flac.with_suffix(".missing.wav"), [Chunk(0.0, 1.0)])
