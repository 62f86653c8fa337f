#!/usr/bin/env bash
# The GPU measurement of issue 6, prepared for a short loan of a GPU machine (one command of
# under 10 minutes): real-size random models (Llama-3.2-3B, w2v-bert-2.0, V-JEPA 2 ViT-g and
# the TRIBE v2 brain model, built on the GPU there), a 60 s and a 5 min 720p speech video,
# ours in float32 and bfloat16, the reference-style baseline on the 60 s one; peak GPU memory
# per stage (torch) and of the whole card; first the frame resize's GPU check (bench_resize.py).
#
# The lent machines have PyTorch and transformers but no PyAV, julius or nibabel, no
# CTranslate2 Whisper and no network. So, here first (.bench and .whl are git-ignored):
#
#   .venv/bin/python benchmarks/bench_pipeline.py --kinds video --lengths 60,300 \
#       --replay-asr --prepare-only --work-dir .bench        # the videos and their words
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --implementation cp --platform manylinux_2_28_x86_64 -d .whl av julius nibabel
#
# then, with the device tool: run(command="bash benchmarks/run_gpu.sh",
# carry=[".bench/stimuli", ".whl"], timeout_s=600). Results: $OUT/gpu.json and $OUT/gpu.log.
# The speech is recognised here once (--replay-asr): the ASR stage is not measured there.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-bench-gpu}"
mkdir -p "$out"
python=python3
if [ -x .venv/bin/python ]; then python=.venv/bin/python; fi
if [ -d .whl ]; then
    "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl
    export PYTHONPATH="/tmp/site:${PYTHONPATH:-}"
fi
export PYTHONPATH="$PWD:${PYTHONPATH:-}" PYTHONUNBUFFERED=1  # berg from this working tree
"$python" -c "import torch; assert torch.cuda.is_available(), 'no CUDA GPU'; \
print(torch.cuda.get_device_name(0), torch.__version__)"
# The reference's uint8 resize on the GPU (integer code): equal to torch's CPU kernel? Speed.
"$python" benchmarks/bench_resize.py --device cuda --json "$out/resize.json" \
    2>&1 | tee "$out/resize.log"
"$python" benchmarks/bench_pipeline.py --device cuda --replay-asr --sizes real \
    --kinds video --lengths 60,300 --baseline-lengths 60 --dtypes float32,bfloat16 \
    --bf16-lengths 60,300 --timeout 420 --work-dir .bench --json "$out/gpu.json" \
    2>&1 | tee "$out/gpu.log"
