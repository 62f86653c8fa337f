"""Localisers that need no data of the user's: their stimuli are made here.

- ``language``: spoken sentences against spoken lists of pronounceable non-words, each list
  as long (in words) as a sentence (Fedorenko et al., 2010, in its auditory form). The
  sentences are ours; the non-words come from a seeded generator of English-like syllables.
  Both are spoken in English by the model's synthesiser (offline Piper by default).
- ``speech``: the same sentences spoken, against the same recordings played backwards
  (time-reversed speech keeps the sound's spectrum and loudness but not its language).

:func:`write_builtin` writes a localiser's stimuli into a folder (the experiment's output,
never next to the user's files): the texts (``texts/``, ``nonword_lists/``) and their
speech, one WAV per item and condition; the items are the WAVs (the run is transcribed like
any sound), and it returns them with the localiser's contrast.
"""

from __future__ import annotations

import os
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from berg.errors import InvalidParameterError
from berg.files import atomic_open
from berg.validation import check_choice, check_int

__all__ = [
    "BUILTIN_CONDITIONS",
    "BUILTIN_LOCALISERS",
    "SENTENCES",
    "BuiltinLocaliser",
    "nonwords",
    "write_builtin",
]

#: Short declarative sentences, 7 to 11 words, concrete and easy to say.
SENTENCES = (
    "The old fisherman mended his nets by the harbour.",
    "A small girl was feeding bread to the ducks.",
    "The baker opened his shop before the sun rose.",
    "My brother found a silver coin under the bridge.",
    "The train to the city was late again today.",
    "She painted the kitchen door a bright shade of green.",
    "The farmer sold fresh eggs at the Sunday market.",
    "Two students argued loudly about the football match.",
    "The doctor asked the boy to open his mouth.",
    "Heavy rain flooded the road near the school.",
    "Our neighbour keeps three goats in his garden.",
    "The pilot told everyone to fasten their seat belts.",
    "A young couple bought a house by the river.",
    "The teacher wrote the answer on the board.",
    "His grandmother baked an apple pie for the party.",
    "The museum closes early on the first Monday.",
    "A tired dog was sleeping in the warm sunlight.",
    "The workers finished the new bridge in the spring.",
    "She forgot her umbrella on the crowded bus.",
    "The children built a castle out of wet sand.",
    "My uncle plays the violin in a small orchestra.",
    "The waiter brought us soup and a basket of bread.",
    "A strong wind blew the leaves across the yard.",
    "The mayor gave a short speech at the ceremony.",
    "We watched the boats sail slowly into the bay.",
    "The nurse checked the patient every hour.",
    "An old man was reading the newspaper on a bench.",
    "The cat jumped onto the table and knocked over a glass.",
    "They planted tomatoes and beans behind the house.",
    "The singer thanked the crowd after the last song.",
    "A letter from her cousin arrived this morning.",
    "The mechanic fixed the brakes on my bicycle.",
)

# Syllables from common English onsets, vowels and codas: the lists sound like words
# without being any (a generated form that is a word of a sentence is drawn again).
_ONSETS = (
    "b", "bl", "br", "d", "dr", "f", "fl", "fr", "g", "gl", "gr", "k", "kl", "kr", "l", "m",
    "n", "p", "pl", "pr", "s", "sk", "sl", "sn", "sp", "st", "t", "tr", "v", "z",
)  # fmt: skip
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ee", "oo", "oa")
_CODAS = ("", "", "", "", "n", "m", "l", "r", "s", "t", "k")  # inside a word: light
_FINAL_CODAS = ("", "n", "m", "l", "r", "s", "t", "k", "nd", "st", "sk", "mp")


def nonwords(n: int, *, seed: int = 0) -> list[str]:
    """``n`` distinct pronounceable non-words of two (mostly) or three syllables, lower case.

    The same seed gives the same non-words; none is a word of :data:`SENTENCES`.
    """
    check_int("n", n, minimum=0)
    rng = np.random.default_rng(seed)
    known = {w.strip(".,").lower() for s in SENTENCES for w in s.split()}
    found: list[str] = []
    while len(found) < n:
        n_syllables = 3 if rng.random() < 0.3 else 2
        parts = []
        for k in range(n_syllables):
            codas = _FINAL_CODAS if k == n_syllables - 1 else _CODAS
            parts += [_ONSETS[rng.integers(len(_ONSETS))], _VOWELS[rng.integers(len(_VOWELS))]]
            parts.append(codas[rng.integers(len(codas))])
        word = "".join(parts)
        if word not in known and word not in found:
            found.append(word)
    return found


@dataclass(frozen=True)
class BuiltinLocaliser:
    """A built-in localiser's stimuli: its conditions (name -> files) and its contrast."""

    name: str
    conditions: dict[str, list[Path]]
    contrast: str


#: Name -> what it contrasts.
BUILTIN_LOCALISERS = {
    "language": "sentences against lists of pronounceable non-words, both spoken",
    "speech": "spoken sentences against the same recordings played backwards",
}
#: Name -> its conditions (the first against the second is its contrast).
BUILTIN_CONDITIONS = {"language": ("sentences", "nonwords"), "speech": ("speech", "reversed")}


def write_builtin(
    name: str,
    folder: str | os.PathLike,
    *,
    cache_dir: str | os.PathLike,
    n_items: int = 16,
    seed: int = 0,
    options=None,
) -> BuiltinLocaliser:
    """Write the stimuli of a built-in localiser into ``folder``.

    Parameters
    ----------
    name : {'language', 'speech'}
    folder : path
        Gets the texts and one sub-folder of WAVs per condition (created; files of the same
        names are replaced).
    cache_dir : path
        berg's cache, where the synthesised speech is kept.
    n_items : int
        Items per condition (2 to ``len(SENTENCES)``).
    seed : int
        Which sentences (and non-words) are used.
    options : StimulusOptions, optional
        The synthesiser (``tts``, ``tts_options``); default Piper. The speech is English.

    Returns
    -------
    BuiltinLocaliser
    """
    check_choice("built-in localiser", name, tuple(BUILTIN_LOCALISERS))
    check_int("n_items", n_items, minimum=2)
    if n_items > len(SENTENCES):
        raise InvalidParameterError(
            f"n_items must be at most {len(SENTENCES)} (the sentences there are), got {n_items}"
        )
    rng = np.random.default_rng(seed)
    chosen = [SENTENCES[i] for i in sorted(rng.permutation(len(SENTENCES))[:n_items])]
    folder = Path(folder)
    sentences = _write_texts(folder / "texts", "sentence", chosen)
    if name == "language":
        lengths = [len(s.split()) for s in chosen]
        pool = iter(nonwords(sum(lengths), seed=seed))
        lists = [" ".join(next(pool) for _ in range(k)).capitalize() + "." for k in lengths]
        texts = {
            "sentences": sentences,
            "nonwords": _write_texts(folder / "nonword_lists", "nonwords", lists),
        }
        contrast = "sentences-nonwords"
    else:
        texts = {"speech": sentences}
        contrast = "speech-reversed"
    spoken = _speak(texts, folder, cache_dir, options)
    if name == "speech":  # the same recordings, sample for sample, backwards
        spoken["reversed"] = []
        for path in spoken["speech"]:
            pcm, rate = _read_pcm(path)
            spoken["reversed"].append(_write_pcm(folder / "reversed" / path.name, pcm[::-1], rate))
    return BuiltinLocaliser(name, spoken, contrast)


def _write_texts(folder: Path, stem: str, texts: list[str]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, text in enumerate(texts, start=1):
        path = folder / f"{stem}{index:02d}.txt"
        with atomic_open(path, "w") as handle:
            handle.write(text + "\n")
        paths.append(path)
    return paths


def _speak(texts: dict[str, list[Path]], folder: Path, cache_dir, options) -> dict[str, list[Path]]:
    """Condition -> its texts spoken in English, as WAVs in ``folder/condition/`` (one voice
    loaded for all of them; the speech cache reused)."""
    from berg.stimulus.speech import make_synthesizer, synthesize_text_file
    from berg.stimulus.timeline import StimulusOptions

    options = StimulusOptions() if options is None else options
    synthesizer = make_synthesizer(options.tts, **options.tts_options)
    spoken: dict[str, list[Path]] = {}
    try:
        for condition, paths in texts.items():
            spoken[condition] = []
            for path in paths:
                speech = synthesize_text_file(path, cache_dir, backend=synthesizer, language="en")
                pcm, rate = _read_pcm(speech.path)
                target = folder / condition / f"{path.stem}.wav"
                spoken[condition].append(_write_pcm(target, pcm, rate))
    finally:
        if hasattr(synthesizer, "close"):
            synthesizer.close()
    return spoken


def _read_pcm(path: Path) -> tuple[np.ndarray, int]:
    """The int16 samples and rate of a mono 16-bit WAV (as the synthesisers write them)."""
    with wave.open(str(path), "rb") as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), "<i2"), wav.getframerate()


def _write_pcm(path: Path, pcm: np.ndarray, rate: int) -> Path:
    from berg.stimulus.speech.synthesizer import write_wav

    path.parent.mkdir(parents=True, exist_ok=True)
    write_wav(path, pcm, rate)
    return path
