"""What a media file holds and how long it lasts (:func:`probe`), checking that it decodes.

Damaged files: a file whose index was lost cannot be opened and raises; one whose header
survived but whose data stops early is usable: the durations of the data present are
reported, with a warning that the file is truncated.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import av

from berg.errors import StimulusError
from berg.stimulus.media.container import (
    audio_stream,
    describe_streams,
    fps_of,
    header_end,
    media_path,
    opened,
    quarter_turns,
    timeline_origin,
    ts_seconds,
    video_stream,
)

__all__ = ["MediaInfo", "probe"]

# Header durations are checked against the last packets; a gap bigger than this (seconds)
# means the header is wrong (a truncated file, or an estimate). Healthy files differ by at
# most one packet (encoder padding, up to ~0.15 s for mp3 at 8 kHz).
_TRUNCATION_TOLERANCE = 0.25

# How far before the promised end the tail check starts reading packets (seconds).
_TAIL_SECONDS = 2.0


@dataclass(frozen=True)
class MediaInfo:
    """What a media file holds, as :func:`probe` finds it.

    Attributes
    ----------
    path : Path
        The file, as given (not resolved).
    duration : float
        Seconds: the longest of the video and audio streams kept (the container's duration
        when the streams carry none); always > 0.
    has_video, has_audio : bool
        Whether there is a video stream (cover art in an audio file does not count) and an
        audio stream, each with decodable data.
    fps : float or None
        Average frame rate of the video stream, frames per second.
    width, height : int or None
        Size in pixels of the frames as displayed, i.e. as :func:`read_frames` returns them
        (after the file's rotation, if it asks for one).
    n_frames : int or None
        Frames in the video stream, when the container records it (mp4, mov, avi; not mkv or
        webm), or when a truncated file had to be counted.
    audio_sample_rate : int or None
        Samples per second of the audio stream.
    audio_channels : int or None
        Channels of the audio stream.
    video_duration, audio_duration : float or None
        Seconds from the timeline's start to the end of each stream.
    """

    path: Path
    duration: float
    has_video: bool
    has_audio: bool
    fps: float | None
    width: int | None
    height: int | None
    n_frames: int | None
    audio_sample_rate: int | None
    audio_channels: int | None
    video_duration: float | None
    audio_duration: float | None


def _packet_end(
    path: Path, index: int, seek_to: float | None, origin: float, frame_step: float
) -> tuple[float | None, int]:
    """Where the last packet of stream ``index`` is shown until (timeline seconds: the
    presentation time of the packet presented last, plus its duration), and how many packets
    were read.

    Reads packets only (no decoding) from ``seek_to`` (timeline seconds; ``None`` = from the
    start) to the end of the file; packets that an edit list leaves out (flagged discard) do
    not count. The last in presentation order, not in the file: with B-frames the two differ,
    and a packet's duration is its own, not its neighbour's. Packets without a duration (the
    last video packet in some containers) count ``frame_step`` seconds. ``None`` when no
    packet was read.
    """
    with opened(path) as container:
        stream = container.streams[index]
        tb = stream.time_base
        if seek_to is not None:
            try:
                container.seek(int((seek_to + origin) / tb), stream=stream, backward=True)
            except av.error.FFmpegError:
                return None, 0
        last, end, count = None, None, 0
        try:
            for packet in container.demux(stream):
                ts = packet.pts if packet.pts is not None else packet.dts
                if ts is None or packet.size == 0 or packet.is_discard:
                    continue
                count += 1
                if last is None or ts >= last:
                    last = ts
                    length = ts_seconds(packet.duration, tb) if packet.duration else frame_step
                    end = ts_seconds(ts, tb) - origin + length
        except av.error.FFmpegError:
            pass  # a damaged tail: what was read before it is what the file holds
        return end, count


def _stream_end(
    path: Path,
    index: int,
    header_end: float | None,
    origin: float,
    container_end: float | None,
    frame_step: float,
    video: bool = False,
) -> tuple[float | None, bool, int | None]:
    """Where a stream's data ends (timeline seconds), checked against what the headers say.

    Returns ``(end, short, n_packets)``: ``short`` when the data stops more than
    ``_TRUNCATION_TOLERANCE`` before the stream's own header duration ``header_end``;
    ``n_packets`` when the whole stream had to be read to find the end (else None).
    """
    expected = header_end if header_end is not None else container_end
    if expected is not None:
        tail, _ = _packet_end(path, index, max(0.0, expected - _TAIL_SECONDS), origin, frame_step)
        if tail is not None and abs(tail - expected) <= _TRUNCATION_TOLERANCE:
            # The data ends where the header says: trust the header, exact where it exists
            # (mp4 edit lists trim the audio encoder's padding; packets do not). But a video
            # whose last frame is shown past the header's end lasts until then: a
            # variable-frame-rate file's header may count frames, not time.
            if header_end is None or (video and tail > header_end):
                return tail, False, None
            return header_end, False, None
        if tail is not None and tail > expected:
            # Data past the header's end: the header was an estimate (an AVI without its
            # index guesses from the file size).
            return tail, False, None
    # No header, a seek that found nothing, or data that stops early: read every packet.
    end, count = _packet_end(path, index, None, origin, frame_step)
    if end is not None and header_end is not None:
        if abs(end - header_end) <= _TRUNCATION_TOLERANCE:
            return (end if video and end > header_end else header_end), False, count
        return end, end < header_end, count
    return end, False, count


def _first_frames(container, streams) -> dict[int, av.frame.Frame]:
    """The first decodable frame of each of ``streams``, by stream index (absent: none)."""
    found: dict[int, av.frame.Frame] = {}
    for packet in container.demux(*streams):
        if packet.stream.index in found:
            continue
        try:
            frames = packet.decode()
        except (av.error.InvalidDataError, av.error.UndefinedError):
            continue
        if frames:
            found[packet.stream.index] = frames[0]
            if len(found) == len(streams):
                break
    return found


def probe(path: str | os.PathLike) -> MediaInfo:
    """Find what a media file holds and how long it lasts, checking that it decodes.

    Reads the headers, decodes the first frame of each stream kept, and reads the last
    packets of each stream to check the durations the headers claim (a few seconds of
    packets, not the whole file, unless the headers are missing or wrong).

    Parameters
    ----------
    path : str or os.PathLike
        A video or audio file in any format FFmpeg reads.

    Returns
    -------
    MediaInfo

    Raises
    ------
    StimulusError
        Missing or empty file, not media, no audio or video stream, nothing decodable, or a
        duration of 0.

    Warns
    -----
    UserWarning
        The file is truncated: its data stops well before the end its header promises. The
        durations returned are those of the data present.
    """
    path = media_path(path)
    with opened(path) as container:
        origin = timeline_origin(container)
        container_end = None
        if container.duration:
            container_end = (container.duration + (container.start_time or 0)) / av.time_base
            container_end -= origin
        video, audio = video_stream(container), audio_stream(container)
        # Decoding a frame proves a stream usable (not a codec FFmpeg lacks, not garbage
        # behind a plausible header) and gives the rotation the frames are displayed with.
        first = _first_frames(container, [s for s in (video, audio) if s is not None])
        first_video = first.get(video.index) if video is not None else None
        first_audio = first.get(audio.index) if audio is not None else None
        if first_video is None and first_audio is None:
            what = (
                "has no video or audio stream"
                if video is None and audio is None
                else "holds no video or audio that decodes (empty, damaged, or in a codec "
                "FFmpeg lacks)"
            )
            raise StimulusError(f"{str(path)!r} {what} (streams: {describe_streams(container)})")
        # Plain values only from here: a stream object must not outlive its container.
        fps = width = height = n_frames = video_index = video_header = None
        if first_video is not None:
            fps = fps_of(video)
            width, height = first_video.width, first_video.height
            if quarter_turns(first_video) % 2:  # shown on its side: as read_frames gives it
                width, height = height, width
            n_frames = video.frames or None
            video_index, video_header = video.index, header_end(video, origin)
        sample_rate = channels = audio_index = audio_header = None
        if first_audio is not None:
            # The decoder's, not the header's: HE-AAC headers give half the decoded rate.
            sample_rate, channels = first_audio.sample_rate, len(first_audio.layout.channels)
            audio_index, audio_header = audio.index, header_end(audio, origin)

    video_end = audio_end = None
    shortfall = []
    if video_index is not None:
        video_end, short, count = _stream_end(
            path,
            video_index,
            video_header,
            origin,
            container_end,
            1.0 / fps if fps else 0.0,
            video=True,
        )
        if count is not None and (short or not n_frames):
            n_frames = count
        if short:
            shortfall.append("video")
    if audio_index is not None:
        audio_end, short, _ = _stream_end(
            path, audio_index, audio_header, origin, container_end, 0.0
        )
        if short:
            shortfall.append("audio")
    ends = [e for e in (video_end, audio_end) if e is not None]
    duration = max(ends) if ends else container_end
    if (
        container_end is not None
        and ends
        and video_header is None
        and audio_header is None
        and duration < container_end - _TRUNCATION_TOLERANCE
    ):
        # Matroska records only the container's duration: the one promise to check.
        shortfall.append("media")
    if not duration or duration <= 0:
        raise StimulusError(f"{str(path)!r} holds no audio or video data (duration 0)")
    if shortfall:
        promised = max(e for e in (container_end, video_header, audio_header) if e is not None)
        warnings.warn(
            f"{str(path)!r} looks truncated (an interrupted download or copy?): its header "
            f"promises {promised:.3f} s but its {' and '.join(shortfall)} data stop at "
            f"{duration:.3f} s; using the {duration:.3f} s present",
            UserWarning,
            stacklevel=2,
        )
    return MediaInfo(
        path=path,
        duration=float(duration),
        has_video=video_index is not None,
        has_audio=audio_index is not None,
        fps=fps,
        width=width,
        height=height,
        n_frames=n_frames,
        audio_sample_rate=sample_rate,
        audio_channels=channels,
        video_duration=video_end,
        audio_duration=audio_end,
    )
