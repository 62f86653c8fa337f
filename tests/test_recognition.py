"""A long sound recognised in blocks cut at pauses: bounded blocks, cuts in the silences,
the words of a whole-file transcription, the language found once, the rule in the cache key."""

import numpy as np
import pytest
from media_factory import aligned_words, make_audio, speech_with_pauses

from berg.errors import InvalidParameterError
from berg.options import EncodingOptions
from berg.stimulus import media
from berg.stimulus.events import TimedWord, Transcript
from berg.stimulus.recognition import RecognitionBlocks, find_cut, recognise_in_blocks
from berg.stimulus.timeline import StimulusOptions, build_timeline
from berg.stimulus.transcript_cache import TranscriptCache

SR = 16000
BLOCK_S = 60.0


@pytest.fixture(scope="module")
def long_speech(tmp_path_factory):
    """~3 minutes of Piper sentences with 0.8-2 s silences, and where the silences are."""
    pytest.importorskip("piper")
    return speech_with_pauses(tmp_path_factory.mktemp("long_speech"), rounds=3)


class Recorder:
    """A recogniser that hears nothing but keeps every block it is given and the language
    asked for; ``words`` (per call) are what it answers, in block time."""

    device = "cpu"
    loaded = True

    def __init__(self, words=None, language="fr"):
        self.blocks, self.languages = [], []
        self.words = words or {}
        self.language = language

    def transcribe(self, audio, sample_rate=SR, *, language=None):
        self.blocks.append(audio.copy())
        self.languages.append(language)
        return Transcript(
            words=tuple(self.words.get(len(self.blocks) - 1, ())),
            language=language or self.language,
            language_probability=None if language else 0.9,
            backend="recorder",
            model="none",
        )

    def fingerprint(self):
        return {"backend": "recorder"}

    def load(self):
        pass

    def close(self):
        pass


def test_blocks_are_bounded_whole_and_cut_in_the_pauses(long_speech):
    path, silences = long_speech
    audio = media.read_audio(path, SR)
    recorder = Recorder()
    recognise_in_blocks(path, recorder, None, RecognitionBlocks(BLOCK_S))
    sizes = [block.size for block in recorder.blocks]
    assert len(sizes) == int(np.ceil(audio.size / (BLOCK_S * SR))) >= 3
    # Together, the blocks are the sound, sample for sample; none is longer than a block.
    np.testing.assert_array_equal(np.concatenate(recorder.blocks), audio)
    assert max(sizes) <= BLOCK_S * SR
    search = RecognitionBlocks(BLOCK_S).search_s
    for cut in np.cumsum(sizes)[:-1]:
        assert cut % 320 == 0, "cuts lie on Whisper's 20 ms grid"
        inside = [(a, b) for a, b in silences if a <= cut <= b]
        assert inside, f"cut at {cut / SR:.3f} s is not in a silence"
        a, b = inside[0]
        # at the middle of the pause the detector hears (Piper's own quiet tails are in it)
        assert abs(cut - (a + b) / 2) <= 0.15 * SR
    first = sizes[0]
    assert (BLOCK_S - search) * SR <= first <= BLOCK_S * SR


def test_words_move_to_the_sound_clock_and_the_first_language_is_kept(long_speech):
    path, _ = long_speech
    word = TimedWord("hello", 1.0, 1.5)
    recorder = Recorder(words={1: [word], 2: [word]}, language="fr")
    transcript = recognise_in_blocks(path, recorder, None, RecognitionBlocks(BLOCK_S))
    # The first block has no words: its detection does not count; the second's does, and
    # is forced on the later ones.
    assert len(recorder.languages) >= 3
    assert recorder.languages == [None, None] + ["fr"] * (len(recorder.languages) - 2)
    offsets = np.cumsum([0] + [b.size for b in recorder.blocks]) / SR
    assert [w.start for w in transcript.words] == [
        round(1.0 + offsets[1], 3),
        round(1.0 + offsets[2], 3),
    ]
    assert [w.end - w.start for w in transcript.words] == pytest.approx([0.5, 0.5], abs=2e-3)
    assert transcript.language == "fr" and transcript.language_probability == 0.9
    forced = recognise_in_blocks(path, Recorder(), "de", RecognitionBlocks(BLOCK_S))
    assert forced.language == "de" and forced.language_probability is None


def test_blocks_hear_what_the_whole_file_does(long_speech, asr):
    # Whisper's 30 s windows restart at a cut, and each window is decoded given the text
    # before it, so a transcript is not bit-for-bit a function of local sound even without
    # cuts: moving the same sound 0.5 s later changes a few words too. Blocks must not
    # change more than that, and the matched words keep their times.
    path, _ = long_speech
    audio = media.read_audio(path, SR)
    whole = asr.transcribe(audio).words
    blocks = recognise_in_blocks(path, asr, "en", RecognitionBlocks(BLOCK_S)).words
    shifted = [
        TimedWord(w.text, round(w.start - 0.5, 3), round(w.end - 0.5, 3))
        for w in asr.transcribe(np.concatenate([np.zeros(SR // 2, np.float32), audio])).words
    ]
    pairs, differ = aligned_words(whole, blocks)
    _, differ_shifted = aligned_words(whole, shifted)
    assert len(whole) > 350
    assert differ <= max(2 * differ_shifted, 0.03 * len(whole)), (differ, differ_shifted)
    starts = np.array([abs(x.start - y.start) for x, y in pairs])
    assert np.median(starts) <= 0.02 and np.mean(starts <= 0.1) >= 0.98, np.sort(starts)[-10:]


def test_find_cut_takes_the_middle_of_the_longest_pause(long_speech):
    path, silences = long_speech
    audio = media.read_audio(path, SR)
    a, b = silences[3]
    lo, hi = a - 2 * SR, b + 2 * SR  # speech, the pause, speech
    assert abs(lo + find_cut(audio[lo:hi]) - (a + b) // 2) <= 0.05 * SR
    # Nobody speaks: the middle.
    assert find_cut(np.zeros(3 * SR, np.float32)) == 3 * SR // 2


def test_find_cut_without_a_pause_takes_the_quietest_moment(monkeypatch):
    import faster_whisper.vad

    rng = np.random.default_rng(0)
    audio = (0.3 * rng.standard_normal(4 * SR)).astype(np.float32)
    audio[int(2.7 * SR) : int(2.8 * SR)] *= 0.01  # the quietest 100 ms, on the frame grid
    monkeypatch.setattr(
        faster_whisper.vad,
        "get_speech_timestamps",
        lambda samples, options, sampling_rate: [{"start": 0, "end": samples.size}],
    )
    assert find_cut(audio) == int(2.75 * SR)


def test_a_short_sound_is_heard_whole_and_keeps_its_cache_key(tmp_path, long_speech):
    path, _ = long_speech
    short = make_audio(tmp_path / "short.wav", media.read_audio(path, SR)[: 40 * SR])
    recorder = Recorder()
    build_timeline(
        short,
        cache_dir=tmp_path / "cache",
        transcriber=recorder,
        options=StimulusOptions(asr_block_s=BLOCK_S),
    )
    assert [b.size for b in recorder.blocks] == [40 * SR]
    from berg.files import file_sha256

    cache = TranscriptCache(tmp_path / "cache" / "transcripts")
    plain = cache.key(file_sha256(short), {"backend": "recorder"}, None)
    assert [p.stem for p in cache.entries()] == [plain]


def test_the_block_rule_is_in_the_cache_key_of_a_long_sound(tmp_path, long_speech):
    from berg.files import file_sha256

    path, _ = long_speech
    for block_s in (BLOCK_S, 90.0, None):
        recorder = Recorder()
        timeline = build_timeline(
            path,
            cache_dir=tmp_path / "cache",
            transcriber=recorder,
            options=StimulusOptions(asr_block_s=block_s),
        )
        assert timeline.provenance["asr"]["from_cache"] is False
        assert timeline.provenance["asr"]["block_s"] == block_s
        assert len(recorder.blocks) == (1 if block_s is None else np.ceil(186 / block_s))
    cache = TranscriptCache(tmp_path / "cache" / "transcripts")
    assert len(cache.entries()) == 3
    plain = cache.key(file_sha256(path), {"backend": "recorder"}, None)
    assert plain in [p.stem for p in cache.entries()]
    # The default block (600 s) holds this sound: the whole-sound entry is read back.
    again = Recorder()
    timeline = build_timeline(
        path, cache_dir=tmp_path / "cache", transcriber=again, options=StimulusOptions()
    )
    assert again.blocks == [] and timeline.provenance["asr"]["from_cache"] is True


@pytest.mark.parametrize("value", [10, 0, -5, float("nan"), "600", True])
def test_bad_block_lengths(value):
    with pytest.raises(InvalidParameterError, match="asr_block_s must be"):
        EncodingOptions(asr_block_s=value)
    with pytest.raises(InvalidParameterError, match="asr_block_s must be"):
        StimulusOptions(asr_block_s=value)


def test_block_lengths_accepted():
    assert EncodingOptions().stimulus_options().asr_block_s == 600.0
    assert EncodingOptions(asr_block_s=None).stimulus_options().recognition_blocks.block_s is None
    assert StimulusOptions(asr_block_s=30).asr_block_s == 30.0


def test_the_command_line_sets_blocks_and_batches():
    from berg.cli.encoding import encoding_options
    from berg.cli.main import build_parser

    def options(*flags):
        args = build_parser().parse_args(["encode", "film.mp4", "-o", "out", *flags])
        return encoding_options(args)[1]

    assert "asr_block_s" not in options() and "asr_options" not in options()
    assert options("--asr-block-s", "300")["asr_block_s"] == 300.0
    assert options("--asr-block-s", "0")["asr_block_s"] is None
    assert options("--asr-batch-size", "8")["asr_options"] == {"batch_size": 8}
    EncodingOptions(**options("--asr-block-s", "0", "--asr-batch-size", "8"))
