"""From a stimulus file to the timeline of events the feature extractors read.

kinds       which kind of stimulus a file is (from its extension), basic file checks
media       probing and decoding audio and video with FFmpeg (PyAV); a file's sound as
            FFmpeg's command line converts it (the reference's WAV)
transcribe  speech -> timed words (faster-whisper; WhisperX optional)
speech      text -> speech for .txt stimuli (Piper, espeak-ng, gTTS)
text        words -> sentences -> the context of each word, as the model was trained
timeline    all of it together: build_timeline(path) -> Timeline
options     helpers the backends share (language codes, backend factories)
"""

from berg.stimulus.events import SynthesizedSpeech, TimedWord, Transcript
from berg.stimulus.kinds import STIMULUS_EXTENSIONS, check_stimulus_file
from berg.stimulus.timeline import Chunk, Timeline, TimelineWord, build_timeline, split_into_chunks

__all__ = [
    "STIMULUS_EXTENSIONS",
    "Chunk",
    "SynthesizedSpeech",
    "TimedWord",
    "Timeline",
    "TimelineWord",
    "Transcript",
    "build_timeline",
    "check_stimulus_file",
    "split_into_chunks",
]
