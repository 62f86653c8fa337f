"""The checks every stimulus path gets before any work starts."""

from pathlib import Path

import pytest

from berg import StimulusError
from berg.stimulus import check_stimulus_file


@pytest.mark.parametrize(
    "name, kind",
    [
        ("clip.mp4", "video"),
        ("clip.AVI", "video"),
        ("clip.mkv", "video"),
        ("clip.mov", "video"),
        ("clip.webm", "video"),
        ("talk.wav", "audio"),
        ("talk.MP3", "audio"),
        ("talk.flac", "audio"),
        ("talk.ogg", "audio"),
        ("story.txt", "text"),
        ("dir with spaces/é café.mp4", "video"),
    ],
)
def test_kind_from_extension(tmp_path, name, kind):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not empty")
    resolved, found = check_stimulus_file(str(path))
    assert found == kind
    assert resolved == path.resolve()
    assert check_stimulus_file(path)[1] == kind  # Path objects too


def test_missing_file(tmp_path):
    with pytest.raises(StimulusError, match="does not exist") as info:
        check_stimulus_file(tmp_path / "nope.mp4")
    assert "nope.mp4" in str(info.value)


def test_directory(tmp_path):
    (tmp_path / "clips.mp4").mkdir()
    with pytest.raises(StimulusError, match="is a directory"):
        check_stimulus_file(tmp_path / "clips.mp4")


def test_empty_file(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(StimulusError, match="empty"):
        check_stimulus_file(tmp_path / "empty.wav")


@pytest.mark.parametrize(
    "name, hint",
    [("clip.mp5", ".mp4"), ("talk.wave", ".wav"), ("notes.pdf", None), ("README", None)],
)
def test_unknown_extension(tmp_path, name, hint):
    (tmp_path / name).write_bytes(b"x")
    with pytest.raises(StimulusError) as info:
        check_stimulus_file(tmp_path / name)
    message = str(info.value)
    assert name in message and ".mp4" in message and ".txt" in message
    if hint:
        assert f"did you mean {hint!r}" in message


@pytest.mark.parametrize("bad", [["a.mp4", "b.mp4"], 3, None, ""])
def test_not_one_path(bad):
    with pytest.raises(StimulusError):
        check_stimulus_file(bad)


def test_unreadable_file(tmp_path):
    import os

    path = tmp_path / "locked.wav"
    path.write_bytes(b"x")
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):  # root reads anything
            pytest.skip("running as a user who can read mode-000 files")
        with pytest.raises(StimulusError, match="cannot be read"):
            check_stimulus_file(path)
    finally:
        path.chmod(0o644)


def _within_a_second(call):
    """Run ``call`` in a thread; fail if it is still running after a second (a hang)."""
    import threading

    outcome = {}

    def run():
        try:
            outcome["value"] = call()
        except BaseException as error:  # handed to the test
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(1.0)
    assert not thread.is_alive(), "still running after a second: it hangs"
    return outcome


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_at_once_by_name(tmp_path):
    import os

    fifo = tmp_path / "x.wav"
    os.mkfifo(fifo)  # opening it for reading would wait for a writer forever
    outcome = _within_a_second(lambda: check_stimulus_file(fifo))
    assert isinstance(outcome.get("error"), StimulusError)
    message = str(outcome["error"])
    assert "named pipe (FIFO)" in message and str(fifo) in message


def test_a_device_is_refused(tmp_path):
    import os

    if not os.path.exists("/dev/null"):
        pytest.skip("no /dev/null")
    link = tmp_path / "null.mp4"
    link.symlink_to("/dev/null")  # the extension is fine, the file is a character device
    with pytest.raises(StimulusError, match="character device"):
        check_stimulus_file(link)


def test_the_modalities_each_kind_uses():
    from berg.batch.runner import _modalities
    from berg.batch.sources import BatchItem
    from berg.stimulus.kinds import modalities_of

    assert modalities_of(["image"]) == ("video",)
    assert modalities_of(["audio"]) == modalities_of(["text"]) == ("text", "audio")
    assert modalities_of(["image", "audio"]) == modalities_of(["video"])
    assert modalities_of(["video"]) == ("text", "audio", "video")

    def batch(*names):
        return [BatchItem(Path(n).stem, Path(n)) for n in names]

    assert _modalities(batch("a.png", "b.JPG")) == ("video",)  # no text or audio model
    assert _modalities(batch("a.png", "b.wav")) == ("text", "audio", "video")
    assert _modalities(batch("a.txt", "b.wav")) == ("text", "audio")
    assert _modalities(batch("a.docx")) == ("text", "audio", "video")  # unknown: all


def test_a_batch_of_silent_videos_needs_only_the_video_model(tmp_path):
    from media_factory import make_video, tone

    from berg.batch.runner import _modalities
    from berg.batch.sources import BatchItem

    silent = [make_video(tmp_path / f"run-{k}.mkv", 1.0, fps=10) for k in range(2)]
    sounding = make_video(tmp_path / "talk.mp4", 1.0, fps=10, audio=tone(300, 1.0))
    items = [BatchItem(p.stem, p) for p in silent]
    assert _modalities(items) == ("video",)  # no recogniser, no text or audio model
    assert _modalities([*items, BatchItem("talk", sounding)]) == ("text", "audio", "video")
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    assert _modalities([*items, BatchItem("broken", broken)]) == ("text", "audio", "video")
