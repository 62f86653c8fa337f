"""What the three extractors share when they load: on demand, SDPA attention, release."""

from __future__ import annotations

import pytest
from tiny_models import write_tiny_extractors

from berg.features.audio import AudioFeatureExtractor
from berg.features.text import TextFeatureExtractor
from berg.features.video import VideoFeatureExtractor

CLASSES = {"text": TextFeatureExtractor, "audio": AudioFeatureExtractor,
           "video": VideoFeatureExtractor}


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
