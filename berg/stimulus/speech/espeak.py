"""espeak-ng: the formant synthesiser (a program), robotic but speaking about a hundred
languages, offline."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from berg.errors import (
    InvalidParameterError,
    MissingDependencyError,
    StimulusError,
    did_you_mean,
)
from berg.files import atomic_path
from berg.stimulus.events import SynthesizedSpeech
from berg.stimulus.options import normalize_language
from berg.stimulus.speech.synthesizer import preview, speech_from_file, wav_info
from berg.validation import check_int

__all__ = ["EspeakSynthesizer"]


# espeak-ng picks a voice from a language code itself; these choices differ from its default.
_ESPEAK_PREFERRED = {"en": "en-us", "zh": "cmn"}


class EspeakSynthesizer:
    """The ``espeak-ng`` command-line synthesiser (offline, about a hundred languages).

    Parameters
    ----------
    voice : str, optional
        An espeak-ng voice name (``espeak-ng --voices``), e.g. ``"en-gb"`` or ``"fr-fr+f3"``,
        used whatever the text's language. Default: the voice for the text's language
        (US English for ``'en'``, Mandarin for ``'zh'``).
    speed : int
        Words per minute (espeak-ng's default 175).
    executable : str
        The program to run (a name on ``PATH`` or a path).
    """

    name = "espeak-ng"
    default_language = None  # about a hundred

    def __init__(
        self, voice: str | None = None, *, speed: int = 175, executable: str = "espeak-ng"
    ):
        self.check_options(voice=voice, speed=speed, executable=executable)
        self.voice = voice
        self.speed = speed
        self.executable = executable
        self._languages: frozenset[str] | None = None

    @staticmethod
    def check_options(**options) -> None:
        """Check option values (whether the program is installed is checked when it runs)."""
        voice = options.get("voice")
        if voice is not None and (not isinstance(voice, str) or not voice.strip()):
            raise InvalidParameterError(f"voice must be an espeak-ng voice name, got {voice!r}")
        if "speed" in options:
            check_int("speed", options["speed"], minimum=80, maximum=500)
        executable = options.get("executable", "espeak-ng")
        if not isinstance(executable, str) or not executable:
            raise InvalidParameterError(
                f"executable must be a program name or path, got {executable!r}"
            )

    def __repr__(self) -> str:
        return f"EspeakSynthesizer(voice={self.voice!r}, speed={self.speed})"

    def _program(self) -> str:
        program = shutil.which(self.executable)
        if program is None:
            raise MissingDependencyError(
                f"tts='espeak-ng' needs the espeak-ng program, but {self.executable!r} is not "
                "installed or not on PATH: apt-get install espeak-ng (Debian/Ubuntu), "
                "brew install espeak-ng (macOS), or use tts='piper'"
            )
        return program

    def languages(self) -> frozenset[str]:
        """Language codes espeak-ng has a voice for (from ``espeak-ng --voices``)."""
        if self._languages is None:
            listing = subprocess.run(
                [self._program(), "--voices"], capture_output=True, text=True, check=False
            ).stdout
            codes = set()
            for line in listing.splitlines()[1:]:
                fields = line.split()
                if len(fields) >= 2:
                    codes.add(fields[1].lower())
                codes.update(c.lower() for c in re.findall(r"\(([\w-]+) \d+\)", line))
            self._languages = frozenset(codes)
        return self._languages

    def voice_for(self, language: str) -> str:
        if self.voice is not None:
            return self.voice
        code = normalize_language(language)
        available = self.languages()
        preferred = _ESPEAK_PREFERRED.get(code)
        if preferred in available:
            return preferred
        if code in available:
            return code
        primaries = sorted({c.split("-")[0] for c in available if 2 <= len(c.split("-")[0]) <= 3})
        raise InvalidParameterError(
            f"espeak-ng has no voice for language {code!r}{did_you_mean(code, primaries)} "
            f"(it speaks {len(primaries)} languages, e.g. 'en', 'fr', 'de', 'es', 'zh'; "
            "`espeak-ng --voices` lists them); use tts='gtts' (online) or a Piper voice for "
            "that language"
        )

    def fingerprint(self, language: str) -> str:
        return f"{self.voice_for(language)}|speed={self.speed}"

    def synthesize(
        self, text: str, out_path: str | os.PathLike, *, language: str
    ) -> SynthesizedSpeech:
        """Speak ``text`` into ``out_path``; the text goes through stdin, so any length works."""
        voice = self.voice_for(language)
        out_path = Path(out_path)
        with atomic_path(out_path) as tmp:
            done = subprocess.run(
                [
                    self._program(),
                    "-v",
                    voice,
                    "-s",
                    str(self.speed),
                    "-b",
                    "1",
                    "--stdin",
                    "-w",
                    str(tmp),
                ],
                input=text.encode("utf-8"),
                capture_output=True,
                check=False,
            )
            if done.returncode != 0 or wav_info(tmp) is None:
                message = done.stderr.decode("utf-8", "replace").strip() or "no audio written"
                raise StimulusError(
                    f"espeak-ng (voice {voice!r}) failed on the text {preview(text)}: {message}"
                )
        return speech_from_file(out_path, self.name, voice, normalize_language(language))
