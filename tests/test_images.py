"""Images as stimuli: a silent still video of the image's exact pixels, for a stated time."""

import io

import av
import numpy as np
import pytest
from PIL import Image

from berg.errors import InvalidParameterError, StimulusError
from berg.stimulus import still
from berg.stimulus.timeline import StimulusOptions, build_timeline


def _png(path, pixels, mode=None):
    Image.fromarray(pixels, mode=mode).save(path)
    return path


def _decoded(path):
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


@pytest.fixture
def picture(tmp_path):
    pixels = np.random.default_rng(3).integers(0, 256, (61, 83, 3), dtype=np.uint8)
    return _png(tmp_path / "face.png", pixels), pixels


def test_the_still_video_holds_the_exact_pixels_for_the_duration(picture, tmp_path):
    path, pixels = picture
    video = still.still_video(path, tmp_path / "cache", 1.5)
    frames = _decoded(video)
    assert len(frames) == 15  # 1.5 s at 10 frames per second
    assert all(np.array_equal(frame, pixels) for frame in frames)
    again = still.still_video(path, tmp_path / "cache", 1.5)
    assert again == video and again.stat().st_mtime_ns == video.stat().st_mtime_ns  # reused
    assert still.still_video(path, tmp_path / "cache", 2.0) != video  # another duration


def test_transparency_is_shown_over_black(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., :3] = 200
    rgba[:2, :, 3] = 255  # the top half opaque, the bottom half transparent
    frame = still.load_image(_png(tmp_path / "half.png", rgba, "RGBA"))
    assert (frame[:2] == 200).all() and (frame[2:] == 0).all()


def test_exif_orientation_is_applied(tmp_path):
    pixels = np.zeros((2, 3, 3), np.uint8)
    pixels[0, 0] = 255  # a white top-left corner, 3 wide and 2 high
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    image.save(tmp_path / "turned.jpg", exif=exif, quality=100, subsampling=0)
    frame = still.load_image(tmp_path / "turned.jpg")
    assert frame.shape == (3, 2, 3)  # displayed upright: 2 wide, 3 high
    assert frame[0, -1].mean() > 200  # the white corner went to the top right


def test_bad_images_get_stimulus_errors(picture, tmp_path, monkeypatch):
    path, _ = picture
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(path.read_bytes()[:200])
    with pytest.raises(StimulusError, match="damaged or truncated"):
        still.load_image(truncated)
    fake = tmp_path / "notes.png"
    fake.write_text("not a picture", encoding="utf-8")
    with pytest.raises(StimulusError, match="cannot be read as an image"):
        still.load_image(fake)
    monkeypatch.setattr(still, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(StimulusError, match=r"83 x 61 pixels, more than 0 megapixels"):
        still.load_image(path)
    assert not (tmp_path / "cache").exists()  # nothing written for a bad image
    with pytest.raises(StimulusError):
        still.still_video(truncated, tmp_path / "cache", 1.0)
    assert not list((tmp_path / "cache").rglob("*.mkv"))


@pytest.mark.parametrize("duration", [0, -1, 1e6, "1", None])
def test_image_duration_is_checked(duration):
    with pytest.raises(InvalidParameterError, match="image_duration must be seconds"):
        StimulusOptions(image_duration=duration)


def test_an_image_timeline_is_video_only(picture, tmp_path):
    path, _ = picture
    timeline = build_timeline(
        path, cache_dir=tmp_path / "cache", options=StimulusOptions(image_duration=2.5)
    )
    assert timeline.kind == "image" and timeline.duration == 2.5
    assert timeline.modalities == ("video",) and timeline.words == ()
    assert timeline.audio_source is None and timeline.path == path
    assert timeline.video_source.suffix == ".mkv"
    assert timeline.video_chunks[-1].start + timeline.video_chunks[-1].duration == 2.5
    assert timeline.provenance["still"]["duration_s"] == 2.5


def test_encoding_an_image_equals_encoding_its_still_video(tmp_path):
    # The independent expectation: the same pixels as a video the test writes itself
    # (another lossless codec, another frame rate) give the same features and responses.
    from tiny_models import tiny_model_options

    from berg import BERG

    pixels = np.random.default_rng(5).integers(0, 256, (64, 96, 3), dtype=np.uint8)
    image = _png(tmp_path / "place.png", pixels)
    video = tmp_path / "place.mov"
    with av.open(str(video), "w") as container:
        stream = container.add_stream("qtrle", rate=25)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "rgb24"
        for index in range(50):  # 2 s
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    model = BERG(tmp_path / "berg").get_encoding_model(
        "fmri-dascoli_2026-tribe_v2",
        device="cpu",
        image_duration=2.0,
        **tiny_model_options(tmp_path),
        selection={"roi": ["V1", "FFC"]},
    )
    from_image, metadata = model.encode(image, return_metadata=True)
    from_video = model.encode(video)
    assert from_image.shape == (2, len(model.vertices))
    assert metadata["stimulus"]["kind"] == "image"
    assert metadata["stimulus"]["modalities"] == ["video"]
    np.testing.assert_array_equal(from_image, from_video)


def test_image_files_are_stimuli(tmp_path):
    from berg.stimulus import check_stimulus_file

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, format="WEBP")
    (tmp_path / "a.WEBP").write_bytes(buffer.getvalue())
    assert check_stimulus_file(tmp_path / "a.WEBP")[1] == "image"
    with pytest.raises(StimulusError, match=".png"):
        check_stimulus_file(_touch(tmp_path / "a.gif"))


def _touch(path):
    path.write_bytes(b"GIF89a")
    return path
