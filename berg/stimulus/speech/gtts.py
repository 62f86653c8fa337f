"""Google Translate's voice (gTTS), as the reference used; needs internet."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from berg.errors import (
    InvalidParameterError,
    MissingDependencyError,
    StimulusError,
    did_you_mean,
    format_choices,
)
from berg.stimulus.events import SynthesizedSpeech
from berg.stimulus.options import normalize_language
from berg.stimulus.speech.synthesizer import OFFLINE_ALTERNATIVES, speech_from_file, write_wav
from berg.validation import check_bool, check_number

__all__ = ["GTTSSynthesizer"]


# gTTS names a few languages differently from ISO 639-1.
_GTTS_CODES = {"he": "iw", "jv": "jw"}


class GTTSSynthesizer:
    """Google Translate's voice through gTTS, as the reference used (needs internet).

    Parameters
    ----------
    tld : str
        Google domain, which picks the accent (``"com"``: the reference's default).
    slow : bool
        Slower reading.
    timeout : float
        Seconds to wait for Google.

    Notes
    -----
    Google sends MP3; it is decoded (PyAV) and saved as 16-bit WAV at its own rate (24 kHz).
    """

    name = "gtts"
    default_language = None  # dozens

    def __init__(self, *, tld: str = "com", slow: bool = False, timeout: float = 30.0):
        self.check_options(tld=tld, slow=slow, timeout=timeout)
        self.tld = tld
        self.slow = bool(slow)
        self.timeout = timeout

    @staticmethod
    def check_options(**options) -> None:
        """Check option values (gTTS itself is needed only to speak)."""
        tld = options.get("tld", "com")
        if not isinstance(tld, str) or not tld:
            raise InvalidParameterError(f"tld must be a Google domain such as 'com', got {tld!r}")
        if "slow" in options:
            check_bool("slow", options["slow"])
        if "timeout" in options:
            check_number("timeout", options["timeout"], positive=True)

    def __repr__(self) -> str:
        return f"GTTSSynthesizer(tld={self.tld!r})"

    @staticmethod
    def _gtts():
        try:
            import gtts
        except ImportError as error:
            raise MissingDependencyError(
                "tts='gtts' needs the gTTS package: pip install gTTS; or use "
                f"{OFFLINE_ALTERNATIVES}"
            ) from error
        return gtts

    def _code(self, language: str) -> str:
        code = normalize_language(language)
        code = _GTTS_CODES.get(code, code)
        supported = sorted(self._gtts().lang.tts_langs())
        if code not in supported:
            raise InvalidParameterError(
                f"gTTS has no voice for language {code!r}{did_you_mean(code, supported)} "
                f"(it speaks {format_choices(supported, limit=20)}); use tts='espeak-ng'"
            )
        return code

    def voice_for(self, language: str) -> str:
        return f"gtts-{self._code(language)}-{self.tld}"

    def fingerprint(self, language: str) -> str:
        return f"{self.voice_for(language)}|slow={self.slow}"

    def synthesize(
        self, text: str, out_path: str | os.PathLike, *, language: str
    ) -> SynthesizedSpeech:
        """Ask Google to speak ``text`` and save it as WAV in ``out_path``."""
        code = self._code(language)
        voice = self.voice_for(language)
        gtts = self._gtts()
        mp3 = io.BytesIO()
        try:
            gtts.gTTS(
                text, lang=code, tld=self.tld, slow=self.slow, timeout=self.timeout
            ).write_to_fp(mp3)
        except Exception as error:  # gTTSError, or requests' errors
            raise StimulusError(
                f"gTTS could not reach Google to speak the text ({error}); gTTS needs internet. "
                f"Offline, use {OFFLINE_ALTERNATIVES}"
            ) from error
        samples, sample_rate = _decode_mp3(mp3.getvalue())
        out_path = Path(out_path)
        write_wav(out_path, samples, sample_rate)
        return speech_from_file(out_path, self.name, voice, normalize_language(language))


def _decode_mp3(data: bytes) -> tuple[np.ndarray, int]:
    """MP3 bytes -> (int16 mono samples, sample rate), with PyAV."""
    import av

    try:
        with av.open(io.BytesIO(data), "r") as container:
            stream = container.streams.audio[0]
            rate = stream.rate or stream.codec_context.sample_rate
            resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
            pieces = []
            for frame in container.decode(stream):
                pieces.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
            pieces.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
    except (av.error.FFmpegError, IndexError) as error:
        raise StimulusError(f"could not decode the speech Google sent ({error})") from error
    if not pieces:
        raise StimulusError("Google sent no audio")
    return np.concatenate(pieces).astype(np.int16), int(rate)
