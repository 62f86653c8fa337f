"""What the three extractors share when they load: on demand, SDPA attention, release."""

from __future__ import annotations

import pytest
from tiny_models import write_tiny_extractors

from berg.features.audio import AudioFeatureExtractor
from berg.features.text import TextFeatureExtractor
from berg.features.video import VideoFeatureExtractor

CLASSES = {
    "text": TextFeatureExtractor,
    "audio": AudioFeatureExtractor,
    "video": VideoFeatureExtractor,
}


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    return write_tiny_extractors(tmp_path_factory.mktemp("models"))


@pytest.mark.parametrize("modality", list(CLASSES))
def test_load_then_close(folders, modality):
    extractor = CLASSES[modality](folders[modality])
    assert not extractor.loaded
    extractor.load()
    assert extractor.loaded
    if modality == "text":
        assert extractor._tokenizer is not None
    if modality == "audio":
        assert extractor._feature_extractor is not None
    # PyTorch's fused attention (flash / memory-efficient kernels on a GPU), not transformers'
    # eager softmax(QK^T): V-JEPA 2's 8,192 tokens would need 4 GB per clip and layer.
    assert extractor.model.config._attn_implementation == "sdpa"
    extractor.close()
    assert not extractor.loaded


@pytest.mark.parametrize("modality", list(CLASSES))
def test_options_are_the_constructor_keywords(modality):
    # The pipeline checks extractor options by the class's option_checks: each one must be a
    # keyword of the constructor and the other way round (the shared ones aside).
    import inspect

    cls = CLASSES[modality]
    keywords = set(inspect.signature(cls).parameters) - {"model_dir", "device", "dtype", "layers"}
    assert keywords == set(cls.option_checks)
    assert cls.modality == modality


@pytest.mark.parametrize("modality", list(CLASSES))
def test_options_checked_by_name_with_a_close_match(modality):
    from berg.errors import InvalidParameterError

    cls = CLASSES[modality]
    name = sorted(cls.option_checks)[0]
    with pytest.raises(InvalidParameterError, match=f"did you mean '{name}'"):
        cls.check_options(**{name + "x": 1})


@pytest.mark.parametrize("model_type", ["bert", "roberta", "t5", "wav2vec2-bert"])
def test_a_text_model_that_is_not_a_causal_decoder_is_refused(folders, tmp_path, model_type):
    # The shared forward passes need each position to see only the tokens before it; a
    # BERT folder (which transformers also loads as a causal LM) would read other states
    # without an error, a T5 or an audio model none at all.
    import json

    from berg.errors import ModelLoadError

    folder = tmp_path / model_type
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": model_type}))
    with pytest.raises(ModelLoadError, match=f"'{model_type}' model; expected a decoder-only"):
        _ = TextFeatureExtractor(folder).n_layers


@pytest.mark.parametrize("model_type", ["llama", "qwen3", "mistral", "gemma2"])
def test_decoder_only_language_models_are_accepted(model_type):
    from transformers import AutoConfig

    assert TextFeatureExtractor.accepts(AutoConfig.for_model(model_type))


@pytest.mark.parametrize("modality", list(CLASSES))
def test_timeline_parts(folders, modality, tmp_path):
    # Which part of a timeline each extractor reads, and the events its cache key follows.
    from berg.stimulus.timeline import Chunk, Timeline, TimelineWord

    timeline = Timeline(
        path=tmp_path / "v.mp4",
        kind="video",
        duration=2.0,
        audio_source=tmp_path / "a.wav",
        audio_chunks=(Chunk(0.0, 2.0),),
        video_chunks=(Chunk(0.0, 1.5),),
        words=(TimelineWord("hi", 0.5, 0.25, "hi"),),
        language="en",
    )
    cls = CLASSES[modality]
    source = cls.timeline_source(timeline)
    events = cls.timeline_events(timeline)
    expected = {
        "text": (None, [("hi", 0.5, 0.25, "hi")]),
        "audio": (tmp_path / "a.wav", [(0.0, 2.0)]),
        "video": (tmp_path / "v.mp4", [(0.0, 1.5)]),
    }[modality]
    assert (source, events) == expected


def test_model_holder_closes_once_and_as_a_context(folders):
    with TextFeatureExtractor(folders["text"]) as extractor:
        extractor.load()
        assert extractor.loaded and extractor._tokenizer is not None
    assert not extractor.loaded and extractor._tokenizer is None
    extractor.close()  # twice: nothing more to do
    assert not extractor.loaded
