"""Decoding video frames and audio samples from a media file, with PyAV (FFmpeg).

Every time here is in seconds on the file's own timeline, counted from the container's start
(normally the first frame and the first audio sample are both at 0), which is where the
reference's ``ffmpeg`` command line counts from too. Audio and video stay in sync on that
timeline.

Three promises the feature extractors rely on:

- ``read_frames`` decodes the video once, front to back, and converts each frame it needs to RGB
  once, however many requested times show it; it holds only the frame on screen, so memory does
  not grow with the length of the video or the number of times (each frame of a stimulus is
  used by up to 8 overlapping V-JEPA2 clips; the reference decoded it 8 times).
- ``read_audio`` cuts spans to the sample: ``read_audio(p, start=s, duration=d)`` equals
  ``read_audio(p)[round(s * rate):][:round(d * rate)]`` up to the resampler's rounding.
- Anything FFmpeg cannot read becomes a :class:`~berg.errors.StimulusError` that names the file.

Damaged files. A file whose index was lost (an mp4 cut before its ``moov`` atom) cannot be
opened and raises. A file whose header survived but whose data stops early (an interrupted
download) is usable: :func:`probe` checks the header's durations against the packets actually
present, reports the durations of the data that is there and warns (``UserWarning``) that the
file is truncated; the read functions then decode what exists (frames asked for past the end get
the last frame, audio comes back shorter). Packets FFmpeg cannot decode are skipped, as the
``ffmpeg`` command line does; a stream of which nothing decodes raises.

Nothing here writes a file: decoded data goes to memory only.

    container  opening a file, finding its streams (what the others share)
    probe      MediaInfo: streams, rates, durations checked against the data
    audio      samples of a span or of blocks, resampled by swresample
    video      the frames on screen at given times, decoded in one pass
    pcm        a file's sound as FFmpeg's command line converts it to 16-bit PCM
"""

from berg.stimulus.media.audio import iter_audio_blocks, read_audio
from berg.stimulus.media.pcm import iter_pcm16_blocks
from berg.stimulus.media.probe import MediaInfo, probe
from berg.stimulus.media.video import FRAME_TIME_TOLERANCE, frame_index_at, read_frames

__all__ = [
    "FRAME_TIME_TOLERANCE",
    "MediaInfo",
    "frame_index_at",
    "iter_audio_blocks",
    "iter_pcm16_blocks",
    "probe",
    "read_audio",
    "read_frames",
]
