"""Reading the official TRIBE v2 ``config.yaml`` safely, and the brain model's sizes.

The released ``config.yaml`` is a dump of the reference experiment (pydantic models turned into
YAML by PyYAML's full dumper), so it carries python tags such as
``!!python/object/apply:pathlib.PosixPath`` and ``!!python/tuple``. The reference reads it with
``yaml.UnsafeLoader``, which would run whatever a tampered file asks for. Here a subclass of
``yaml.SafeLoader`` turns every python tag into plain data (mapping -> dict, sequence -> list,
scalar -> str, a path -> its string) and never imports or calls anything.

``BrainModelConfig`` keeps only what shapes the network. Every other architectural option of the
reference ``FmriEncoder`` is checked against the value the release uses: berg builds that one
model exactly, and refuses (naming the file, key and value) rather than build a different one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import yaml

from berg.errors import InvalidParameterError, ModelLoadError
from berg.validation import check_int, is_number

__all__ = ["BrainModelConfig", "read_tribe_config"]


# ----------------------------------------------------------------------------------------------
# A YAML loader that tolerates python tags without executing them


class _TolerantSafeLoader(yaml.SafeLoader):
    """SafeLoader that reads python-specific tags as plain data instead of refusing them."""


def _construct_plain(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    # Any tag SafeLoader does not know (python objects, tuples, names, modules...): keep the data
    # the node holds and drop the tag, so nothing is ever imported or called.
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


def _construct_path(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Any:
    # `!!python/object/apply:pathlib.PosixPath` holds the path's parts as a sequence (or, in the
    # long form, a mapping with `args`); join them into the path string they stand for.
    data = _construct_plain(loader, node)
    parts = data.get("args") if isinstance(data, dict) else data
    if isinstance(parts, list) and parts and all(isinstance(p, str) for p in parts):
        pure = PureWindowsPath if "Windows" in tag_suffix else PurePosixPath
        return str(pure(*parts))
    return data


_TolerantSafeLoader.add_multi_constructor(
    "tag:yaml.org,2002:python/object/apply:pathlib.", _construct_path
)
_TolerantSafeLoader.add_constructor(None, _construct_plain)


def read_tribe_config(path: str | Path) -> dict:
    """Read a TRIBE v2 ``config.yaml`` without executing anything it contains.

    Parameters
    ----------
    path : str or Path
        The ``config.yaml`` that ships beside ``best.ckpt``.

    Returns
    -------
    dict
        The whole configuration as plain data (dicts, lists, str, numbers, bools, None). Python
        tags are dropped: paths become strings, tuples become lists, other objects their fields.

    Raises
    ------
    ModelLoadError
        The file is missing or unreadable, is not valid YAML, is not a mapping at the top level,
        or has no ``brain_model_config`` mapping.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelLoadError(f"TRIBE v2 config file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ModelLoadError(f"cannot read TRIBE v2 config file {path}: {error}") from error
    try:
        config = yaml.load(text, Loader=_TolerantSafeLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as error:
        detail = " ".join(str(error).split())
        raise ModelLoadError(f"{path} is not valid YAML: {detail}") from error
    if not isinstance(config, dict):
        raise ModelLoadError(
            f"{path} must hold a mapping at the top level (the reference experiment config); "
            f"got {type(config).__name__}"
        )
    if not isinstance(config.get("brain_model_config"), dict):
        found = "is not a mapping" if "brain_model_config" in config else "is missing"
        raise ModelLoadError(
            f"{path}: 'brain_model_config' {found}; a TRIBE v2 config.yaml describes the brain "
            f"model there (top-level keys found: {', '.join(map(str, config)) or 'none'})"
        )
    return config


# ----------------------------------------------------------------------------------------------
# The brain model's configuration

# What the release uses for every architectural option berg does not implement otherwise. An
# absent key takes this value; a present one must equal it.
_REQUIRED_TOP = {
    "extractor_aggregation": "cat",
    "time_pos_embedding": True,
    "subject_embedding": False,
    "linear_baseline": False,
    "temporal_smoothing": None,
    "combiner": None,
}
_REQUIRED_ENCODER = {
    "use_scalenorm": True,
    "rotary_pos_emb": True,
    "scale_residual": True,
    "use_rmsnorm": False,
    "rotary_xpos": False,
    "residual_attn": False,
    "rel_pos_bias": False,
    "alibi_pos_bias": False,
    "causal": False,
    "cross_attend": False,
}
# Options that change training, speed or bookkeeping, never the inference forward.
_HARMLESS_TOP = {
    "name", "dropout", "modality_dropout", "temporal_dropout", "n_subjects",
    "compile_backbone", "gradient_checkpointing",
}  # fmt: skip
_HARMLESS_ENCODER = {"name", "attn_flash", "attn_dropout", "ff_dropout", "layer_dropout"}
_HARMLESS_PROJECTOR = {"name", "input_size", "norm_layer", "activation_layer", "bias", "dropout"}
_HARMLESS_SUBJECT_LAYERS = {
    "name", "n_subjects", "init_id", "mode", "subject_dropout", "average_subjects",
}  # fmt: skip
_LAYER_AGGREGATIONS = ("cat", "mean")


@dataclass(frozen=True)
class BrainModelConfig:
    """The sizes of the TRIBE v2 brain model (the reference ``FmriEncoder``), release defaults.

    Attributes
    ----------
    hidden : int
        Width of the transformer (1152); each modality's projector outputs hidden / n_modalities.
    max_seq_len : int
        Rows of ``time_pos_embed``: the longest window, in 2 Hz bins (1024).
    depth : int
        Attention + feed-forward pairs (8, so 16 blocks).
    heads : int
        Attention heads (8, of hidden / heads = 144 dims each).
    ff_mult : float
        Feed-forward expansion: the inner width is int(hidden * ff_mult) (4 -> 4608).
    low_rank_head : int or None
        Width of the bias-free bottleneck before the per-subject read-out (2048); None = none.
    layer_aggregation : {'cat', 'mean'}
        How a modality's layer groups enter its projector: 'cat' flattens (L, D) layer-major to
        L*D inputs (the release), 'mean' averages the L groups to D inputs.
    """

    hidden: int = 1152
    max_seq_len: int = 1024
    depth: int = 8
    heads: int = 8
    ff_mult: float = 4
    low_rank_head: int | None = 2048
    layer_aggregation: str = "cat"

    def __post_init__(self) -> None:
        for name in ("hidden", "max_seq_len", "depth", "heads"):
            _check_positive_int(name, getattr(self, name))
        if self.low_rank_head is not None:
            _check_positive_int("low_rank_head", self.low_rank_head)
        if not is_number(self.ff_mult) or int(self.hidden * self.ff_mult) < 1:
            raise InvalidParameterError(
                f"ff_mult must be a positive number (4 in TRIBE v2), got {self.ff_mult!r}"
            )
        if self.layer_aggregation not in _LAYER_AGGREGATIONS:
            raise InvalidParameterError(
                f"layer_aggregation must be one of {_LAYER_AGGREGATIONS}, "
                f"got {self.layer_aggregation!r}"
            )
        if self.hidden % self.heads:
            raise InvalidParameterError(
                f"hidden ({self.hidden}) must be divisible by the number of heads ({self.heads})"
            )
        if self.dim_head < 32:
            # x_transformers widens the rotary embedding to at least 32 dims, so the reference
            # refuses narrower heads; no checkpoint can have them.
            raise InvalidParameterError(
                f"hidden / heads = {self.dim_head} dims per head; TRIBE v2 (rotary embedding) "
                f"needs at least 32"
            )

    @property
    def dim_head(self) -> int:
        """Dims per attention head (144 in the release)."""
        return self.hidden // self.heads

    @property
    def rotary_dim(self) -> int:
        """Leading dims of each head that the rotary embedding turns (72 in the release)."""
        return max(self.dim_head // 2, 32)

    @property
    def ff_inner(self) -> int:
        """Inner width of the feed-forward blocks (4608 in the release)."""
        return int(self.hidden * self.ff_mult)

    @classmethod
    def from_config(cls, cfg: Mapping, *, source: str | Path | None = None) -> BrainModelConfig:
        """Build from the dict that :func:`read_tribe_config` returns.

        Parameters
        ----------
        cfg : Mapping
            The whole config; its ``brain_model_config`` mapping is read.
        source : str or Path, optional
            The file the config came from, named in error messages.

        Raises
        ------
        ModelLoadError
            An option asks for a model other than the released architecture (a combiner, a
            projector with hidden layers, temporal smoothing, no rotary embedding, ...), or a
            size is invalid. The message names the file, the key, its value and what berg
            supports.
        """
        where = str(source) if source is not None else "config"
        bm = cfg.get("brain_model_config") if isinstance(cfg, Mapping) else None
        if not isinstance(bm, Mapping):
            raise ModelLoadError(f"{where}: 'brain_model_config' is missing or not a mapping")
        check = _Checker(where)
        prefix = "brain_model_config"

        check.value(f"{prefix}.name", bm.get("name"), (None, "FmriEncoder"))
        for key, required in _REQUIRED_TOP.items():
            check.value(f"{prefix}.{key}", bm.get(key, required), (required,))
        layer_aggregation = bm.get("layer_aggregation", "cat")
        check.value(f"{prefix}.layer_aggregation", layer_aggregation, _LAYER_AGGREGATIONS)

        projector = check.mapping(f"{prefix}.projector", bm.get("projector", {}))
        check.value(f"{prefix}.projector.name", projector.get("name"), (None, "Mlp"))
        hidden_sizes = projector.get("hidden_sizes")
        if hidden_sizes:
            check.fail(f"{prefix}.projector.hidden_sizes", hidden_sizes, "null or [] (one Linear)")
        check.unknown_keys(f"{prefix}.projector", projector, {"hidden_sizes"} | _HARMLESS_PROJECTOR)

        subject_layers = check.mapping(f"{prefix}.subject_layers", bm.get("subject_layers", {}))
        check.value(
            f"{prefix}.subject_layers.name", subject_layers.get("name"), (None, "SubjectLayers")
        )
        check.value(f"{prefix}.subject_layers.bias", subject_layers.get("bias", True), (True,))
        check.unknown_keys(
            f"{prefix}.subject_layers", subject_layers, {"bias"} | _HARMLESS_SUBJECT_LAYERS
        )

        encoder = check.mapping(f"{prefix}.encoder", bm.get("encoder", {}))
        check.value(f"{prefix}.encoder.name", encoder.get("name"), (None, "TransformerEncoder"))
        for key, required in _REQUIRED_ENCODER.items():
            check.value(f"{prefix}.encoder.{key}", encoder.get(key, required), (required,))
        sizes = {"heads", "depth", "ff_mult"}
        check.unknown_keys(
            f"{prefix}.encoder", encoder, sizes | set(_REQUIRED_ENCODER) | _HARMLESS_ENCODER
        )

        handled = {"layer_aggregation", "projector", "subject_layers", "encoder", "hidden"}
        handled |= {"max_seq_len", "low_rank_head"} | set(_REQUIRED_TOP) | _HARMLESS_TOP
        check.unknown_keys(prefix, bm, handled)

        try:
            return cls(
                hidden=bm.get("hidden", cls.hidden),
                max_seq_len=bm.get("max_seq_len", cls.max_seq_len),
                depth=encoder.get("depth", cls.depth),
                heads=encoder.get("heads", cls.heads),
                ff_mult=encoder.get("ff_mult", cls.ff_mult),
                # Absent -> the release's 2048; only an explicit null means "no bottleneck".
                low_rank_head=bm.get("low_rank_head", cls.low_rank_head),
                layer_aggregation=layer_aggregation,
            )
        except InvalidParameterError as error:
            raise ModelLoadError(f"{where}: brain_model_config is invalid: {error}") from error


def _check_positive_int(name: str, value: object) -> None:
    check_int(name, value)


class _Checker:
    """Raises ModelLoadError messages that name the file, the key, the value and what works."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, key: str, value: object, supported: str) -> None:
        raise ModelLoadError(
            f"{self.where}: {key} = {value!r} is not supported; berg implements the released "
            f"TRIBE v2 brain model only and supports {supported}"
        )

    def value(self, key: str, value: object, allowed: tuple) -> None:
        # Compare type too, so 1 does not pass for True nor True for 1.
        if not any(value == a and type(value) is type(a) for a in allowed):
            self.fail(key, value, " or ".join(repr(a) for a in allowed))

    def mapping(self, key: str, value: object) -> Mapping:
        if not isinstance(value, Mapping):
            self.fail(key, value, "a mapping, as in the release")
        return value

    def unknown_keys(self, key: str, section: Mapping, known: set) -> None:
        # An option berg has never heard of is accepted only while it is off (false, null, 0,
        # empty): x_transformers and neuraltrain options all default to off.
        for name, value in section.items():
            if name not in known and value not in (None, False, 0, "", [], {}):
                self.fail(f"{key}.{name}", value, "only options of the released model")
