"""Speech to timed words: a Whisper recogniser behind a one-method interface.

The reference ran WhisperX large-v3 with the language forced to English, float16 hard-coded
(which fails on the CPU) and ``subprocess.run`` patched globally. Here:

- :class:`FasterWhisperTranscriber` (the default) runs Whisper through CTranslate2 with word
  timestamps. The language is detected unless given, and recorded in the transcript.
- :class:`WhisperXTranscriber` reproduces the reference's recogniser (WhisperX + wav2vec2
  forced alignment) when the optional ``whisperx`` package is installed.
- Both pick a compute type the device supports (float16 on CUDA, int8 on the CPU) and change
  no global state.

Every backend takes float32 mono samples at 16 kHz (what Whisper was trained on) and returns
a :class:`~berg.stimulus.events.Transcript` whose word times are seconds from the first sample.

    words           the Transcriber interface, the audio it takes, tidy timed words
    models          which model, device and compute type; load errors
    faster_whisper  FasterWhisperTranscriber (default); whisperx: WhisperXTranscriber
    factory         make_transcriber by name
"""

from berg.stimulus.transcribe.factory import TRANSCRIBERS, check_transcriber, make_transcriber
from berg.stimulus.transcribe.faster_whisper import FasterWhisperTranscriber
from berg.stimulus.transcribe.whisperx import WhisperXTranscriber
from berg.stimulus.transcribe.words import SAMPLE_RATE, Transcriber, as_transcriber

__all__ = [
    "SAMPLE_RATE",
    "TRANSCRIBERS",
    "FasterWhisperTranscriber",
    "Transcriber",
    "WhisperXTranscriber",
    "as_transcriber",
    "check_transcriber",
    "make_transcriber",
]
