"""Model ids, their aliases and their model cards.

Each model berg serves has one YAML card in ``berg/cards/`` named after its canonical id.
The card is plain data: what ``BERG.describe`` prints, where the weights come from, and the
fixed metadata values (subject, output rate). Loading a card never touches the weights.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from berg.errors import BERGError, ModelNotFoundError, did_you_mean, format_choices
from berg.hub import is_commit

__all__ = [
    "check_modality",
    "MODALITIES",
    "ModelCard",
    "PretrainedSpec",
    "WeightsSource",
    "canonical_model_id",
    "get_card",
    "known_feature_model",
    "list_model_ids",
]

#: The feature modalities, in the brain model's concatenation order (text | audio | video).
MODALITIES = ("text", "audio", "video")


def check_modality(modality: object) -> str:
    """``modality`` if it is one of :data:`MODALITIES`; else the error with the close match."""
    from berg.validation import check_choice

    return check_choice("modality", modality, MODALITIES)


@dataclass(frozen=True)
class WeightsSource:
    """Where a model's weights live: on the Hub, and inside a BERG directory.

    Attributes
    ----------
    hub_repo : str
        Hugging Face Hub repository, e.g. ``"facebook/tribev2"``.
    revision : str
        The pinned commit of ``hub_repo`` that berg downloads by default.
    files : tuple of str
        The file names that make up the weights (``config.yaml``, ``best.ckpt``).
    berg_path : PurePosixPath
        Folder of these files relative to ``berg_dir`` (BERG's layout).
    license : str
        The weights' licence, shown to the user before they download.
    sha256 : mapping of str to str
        Known SHA-256 digests of files at ``revision``: a download is checked against them.
    sizes : mapping of str to int
        Known sizes in bytes of files at ``revision`` (checked likewise; shown before a
        download).
    also_in : tuple of PurePosixPath
        Other folders of ``berg_dir`` where BERG may have put the same files (the folder of
        another id of the model); looked in after ``berg_path``.
    """

    hub_repo: str
    revision: str
    files: tuple[str, ...]
    berg_path: PurePosixPath
    license: str
    sha256: Mapping[str, str] = field(default_factory=dict)
    sizes: Mapping[str, int] = field(default_factory=dict)
    also_in: tuple[PurePosixPath, ...] = ()


@dataclass(frozen=True)
class PretrainedSpec:
    """A feature model as the model card names it.

    Attributes
    ----------
    modality : str
        'text', 'audio' or 'video'.
    hub_id : str
        Hugging Face repository, e.g. ``"meta-llama/Llama-3.2-3B"``.
    revision : str
        Branch, tag or commit to download.
    env_var : str
        Environment variable that may name a local folder instead.
    gated : bool
        Whether the repository needs an accepted licence and a token (Llama).
    sha256, sizes : mapping of str to int or str
        Known SHA-256 digests and sizes in bytes of files at ``revision``: the Hub cache's
        copies are checked against them (once; the check is recorded).
    download_bytes : int, optional
        About how much a download of the model weighs, for messages before there is a
        listing (the exact sizes come from the Hub when downloading).
    license : str
        The model's licence, for the README and ``berg doctor``.
    num_hidden_layers, hidden_size : int, optional
        The model's depth and width as its ``config.json`` states them (known for the models
        the cards name): the features a checkpoint expects are checked against them before
        anything is downloaded (:mod:`berg.features.checkpoint_models`).
    """

    modality: str
    hub_id: str
    revision: str
    env_var: str
    gated: bool = False
    sha256: Mapping[str, str] = field(default_factory=dict)
    sizes: Mapping[str, int] = field(default_factory=dict)
    download_bytes: int | None = None
    license: str = ""
    num_hidden_layers: int | None = None
    hidden_size: int | None = None


class ModelCard(Mapping):
    """A model card: a read-only mapping of the card's YAML, plus typed accessors.

    ``repr`` is one line so that returning a card from ``describe`` in a notebook does not
    repeat the text it printed; ``str`` is the full formatted card.
    """

    def __init__(self, data: Mapping[str, Any]):
        self._data = dict(data)

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"ModelCard({self.model_id!r})"

    @property
    def model_id(self) -> str:
        return self._data["model_id"]

    @property
    def aliases(self) -> tuple[str, ...]:
        return tuple(self._data.get("aliases", ()))

    @property
    def weights(self) -> WeightsSource:
        w = self._data["weights"]
        return WeightsSource(
            hub_repo=w["hub_repo"],
            revision=str(w["revision"]),
            files=tuple(w["files"]),
            berg_path=PurePosixPath(w["berg_path"]),
            license=w["license"],
            sha256={str(k): str(v) for k, v in (w.get("sha256") or {}).items()},
            sizes={str(k): int(v) for k, v in (w.get("sizes") or {}).items()},
            also_in=tuple(PurePosixPath(p) for p in w.get("also_in") or ()),
        )

    def extractor(self, modality: str):
        """The feature model of ``modality`` ('text', 'audio', 'video') as a PretrainedSpec."""
        e = self._data["extractors"][modality]
        return PretrainedSpec(
            modality=modality,
            hub_id=e["hub_id"],
            revision=str(e["revision"]),
            env_var=e["env_var"],
            gated=bool(e.get("gated", False)),
            sha256={str(k): str(v) for k, v in (e.get("sha256") or {}).items()},
            sizes={str(k): int(v) for k, v in (e.get("sizes") or {}).items()},
            download_bytes=int(e["download_gb"] * 1e9) if e.get("download_gb") else None,
            license=str(e.get("license", "")),
            num_hidden_layers=int(e["num_hidden_layers"]) if e.get("num_hidden_layers") else None,
            hidden_size=int(e["hidden_size"]) if e.get("hidden_size") else None,
        )

    def __str__(self) -> str:
        return _format_card(self._data)


def _wrap(text: str, first: str = "  ", rest: str = "  ") -> str:
    import textwrap

    # Never split a URL, a path or a model id at a hyphen.
    return textwrap.fill(
        " ".join(str(text).split()),
        width=88,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    )


def _revision(revision: object) -> str:
    """A commit as it is; a branch said to be unpinned."""
    text = str(revision)
    return text if is_commit(text) else f"{text} (its newest commit; not pinned)"


def _format_card(card: Mapping[str, Any]) -> str:
    """Render a card as wrapped plain text for a terminal or a notebook cell."""
    lines = [f"{card['model_id']}  ({card['name']})", "=" * 60]
    if card.get("aliases"):
        lines.append("Also accepted as: " + ", ".join(card["aliases"]))
    lines += [
        f"Modality: {card['modality']}   Species: {card['species']}   "
        f"Stimuli: {', '.join(card['stimuli'])}",
        f"Model: {card['model_type']}   Creator: {card['creator']}",
        "",
    ]
    for key, title in [
        ("summary", "Summary"),
        ("architecture", "Architecture"),
        ("subject", "Subject"),
        ("training_data", "Training data"),
        ("performance", "Performance"),
        ("output", "Output"),
        ("timing", "Timing"),
        ("hardware", "Hardware"),
    ]:
        if key in card:
            lines += [title, _wrap(card[key]), ""]
    lines.append("Input (one file; the kind comes from its extension)")
    lines += [_wrap(text, "  - ", "    ") for text in card["pipeline"].values()]
    lines.append("")
    for function, params in card["parameters"].items():
        lines.append(f"Parameters of {function}()")
        lines += [_wrap(f"{name}: {text}", "  ", "      ") for name, text in params.items()]
        lines.append("")
    w = card["weights"]
    lines += [
        "Weights",
        f"  Hub: {w['hub_repo']} at revision {_revision(w['revision'])}",
        f"  Files: {', '.join(w['files'])}, kept in <berg_dir>/{w['berg_path']}",
        _wrap(f"Licence: {w['license']}"),
        _wrap(w["gated_dependencies"]),
        "",
    ]
    if card.get("extractors"):
        lines.append("Feature models (Hugging Face Hub; or a local folder via the variable shown)")
        lines += [
            f"  {modality}: {e['hub_id']} @ {_revision(e['revision'])}  (${e['env_var']})"
            + ("  [gated]" if e.get("gated") else "")
            for modality, e in card["extractors"].items()
        ]
        lines.append("")
    lines.append("References")
    lines += [_wrap(ref, "  - ", "    ") for ref in card["references"]]
    return "\n".join(lines)


#: A folder of model cards that replace packaged ones of the same id (or add new ids): for
#: a mirror that serves other commits, and for tests that serve tiny models under the real
#: names (whose digests are not the real files').
CARDS_ENV_VAR = "BERG_CARDS"


def _card_files():
    yield from resources.files("berg").joinpath("cards").iterdir()
    extra = os.environ.get(CARDS_ENV_VAR)
    if extra:
        folder = Path(extra).expanduser()
        if not folder.is_dir():
            raise BERGError(f"${CARDS_ENV_VAR} names {str(folder)!r}, which is not a folder")
        yield from sorted(folder.iterdir())


@functools.cache
def _cards() -> dict[str, ModelCard]:
    """All cards by canonical id (read once): the packaged ones, then ``$BERG_CARDS``'s."""
    cards = {}
    for entry in _card_files():
        if not entry.name.endswith(".yaml"):
            continue
        try:
            data = yaml.safe_load(entry.read_text(encoding="utf-8"))
            card = ModelCard(data)
            _ = card.weights  # fail here, not at download time, on a malformed card
            for modality in card.get("extractors", {}):
                card.extractor(modality)
        except (yaml.YAMLError, KeyError, TypeError) as exc:
            raise BERGError(
                f"the model card {entry.name} is unreadable ({exc}); "
                + (
                    f"fix it or unset ${CARDS_ENV_VAR}"
                    if isinstance(entry, Path)
                    else "the berg installation is broken, reinstall it"
                )
            ) from exc
        cards[card.model_id] = card
    return cards


@functools.cache
def _id_table() -> dict[str, str]:
    """Every accepted id (canonical or alias) -> canonical id."""
    table = {}
    for model_id, card in _cards().items():
        table[model_id] = model_id
        table.update({alias: model_id for alias in card.aliases})
    return table


def list_model_ids(include_aliases: bool = False) -> list[str]:
    """Sorted canonical model ids (and their aliases when ``include_aliases``)."""
    return sorted(_id_table() if include_aliases else _cards())


def canonical_model_id(model_id: object) -> str:
    """Map a canonical id or an alias to the canonical id.

    Raises
    ------
    ModelNotFoundError
        If ``model_id`` is not a string or not a known id; the message lists the valid ids
        and suggests the closest one.
    """
    table = _id_table()
    if not isinstance(model_id, str):
        raise ModelNotFoundError(
            f"model_id must be a string such as {list_model_ids()[0]!r}, "
            f"got {type(model_id).__name__} {model_id!r}"
        )
    if model_id in table:
        return table[model_id]
    raise ModelNotFoundError(
        f"unknown model id {model_id!r}{did_you_mean(model_id, table)} "
        f"(valid ids: {format_choices(sorted(table))})"
    )


def get_card(model_id: str) -> ModelCard:
    """The model card of a canonical id or alias."""
    return _cards()[canonical_model_id(model_id)]


def known_feature_model(modality: str, hub_id: str) -> PretrainedSpec | None:
    """The feature model ``hub_id`` as the first card that names it for ``modality`` does
    (its pinned revision, environment variable and sizes), or None when no card does."""
    for card in _cards().values():
        if modality in card.get("extractors", {}):
            spec = card.extractor(modality)
            if spec.hub_id == hub_id:
                return spec
    return None
