"""Which hidden states of a feature model are averaged into TRIBE v2's layer groups.

The checkpoint's ``config.yaml`` decides (docs/inference.md, section 4), as neuralset 0.0.2
applies it:

1. The hidden states ``h_0 .. h_{n-1}`` include the embedding output.
2. ``cache_n_layers: K`` (text and video extractors only): when ``K < n`` keep
   ``h[round(x)]`` for ``x`` in ``linspace(0, n - 1, K)`` (numpy's half-to-even rounding),
   so ``n`` becomes ``K``.
3. Fractions ``f`` (``data.layers_to_use``, or ``linspace(0, 1, data.n_layers_to_use)``, or
   the extractor's own ``layers``) become indices ``i = unique(int(f * (n - 1)))``. With
   ``group_mean``, the last index is made inclusive and group ``g`` is the mean of
   ``h[i_g : i_{g+1}]``: three fractions give two groups. ``mean`` averages the selected
   states into one group; no aggregation keeps them as they are.

Worked example: Llama-3.2-3B has n = 29 hidden states; fractions [0.5, 0.75, 1.0] give the
groups h14..h20 and h21..h28.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from berg.errors import InvalidParameterError, ModelLoadError
from berg.validation import check_choice, check_int, is_number

__all__ = [
    "LayerSelection",
    "group_indices",
    "select_hidden_states",
    "layer_selection_from_config",
    "extractor_section",
    "describe_selection",
    "DEFAULT_FRACTIONS",
]

#: What the released TRIBE v2 uses when its config.yaml says nothing.
DEFAULT_FRACTIONS = (0.5, 0.75, 1.0)
_AGGREGATIONS = ("group_mean", "mean", None)


@dataclass(frozen=True)
class LayerSelection:
    """How a model's hidden states become layer groups.

    Attributes
    ----------
    fractions : tuple of float
        Relative depths in [0, 1].
    aggregation : {'group_mean', 'mean', None}
    cache_n_layers : int or None
        Sub-select this many hidden states first (when fewer than the model has).
    """

    fractions: tuple[float, ...] = DEFAULT_FRACTIONS
    aggregation: str | None = "group_mean"
    cache_n_layers: int | None = None

    def __post_init__(self):
        if not self.fractions or not all(is_number(f) and 0 <= f <= 1 for f in self.fractions):
            raise InvalidParameterError(
                f"layer fractions must be numbers in [0, 1], got {self.fractions!r}"
            )
        check_choice("layer aggregation", self.aggregation, _AGGREGATIONS)
        check_int("cache_n_layers", self.cache_n_layers, none="every hidden state")

    def n_groups(self, n_hidden_states: int) -> int:
        """Number of groups (the ``L`` of the features) for a model with this many states."""
        return len(group_indices(n_hidden_states, self))


def _kept_states(n: int, cache_n_layers: int | None) -> list[int]:
    if cache_n_layers is None or cache_n_layers >= n:
        return list(range(n))
    return [int(i) for i in np.round(np.linspace(0, n - 1, cache_n_layers))]


def group_indices(n_hidden_states: int, selection: LayerSelection) -> list[list[int]]:
    """The hidden-state indices averaged into each group.

    Parameters
    ----------
    n_hidden_states : int
        How many hidden states the model returns (embedding output included).

    Returns
    -------
    list of list of int
        One list per group, indices into the model's hidden states.

    Examples
    --------
    >>> group_indices(29, LayerSelection())
    [[14, 15, 16, 17, 18, 19, 20], [21, 22, 23, 24, 25, 26, 27, 28]]
    """
    if n_hidden_states < 1:
        raise InvalidParameterError(
            f"a model returns at least one hidden state, got {n_hidden_states}"
        )
    kept = _kept_states(n_hidden_states, selection.cache_n_layers)
    n = len(kept)
    indices = sorted({int(f * (n - 1)) for f in selection.fractions})
    if selection.aggregation == "group_mean":
        if len(indices) < 2:
            raise InvalidParameterError(
                f"group_mean needs at least two distinct layer positions; fractions "
                f"{selection.fractions} give {indices} of {n} hidden states"
            )
        bounds = indices[:-1] + [indices[-1] + 1]  # the last index is inclusive
        return [kept[a:b] for a, b in zip(bounds, bounds[1:])]
    if selection.aggregation == "mean":
        return [[kept[i] for i in indices]]
    return [[kept[i]] for i in indices]


def select_hidden_states(hidden_states, selection: LayerSelection):
    """Average a model's hidden states into layer groups.

    Parameters
    ----------
    hidden_states : sequence of torch.Tensor (n of shape (...)) or a torch.Tensor (n, ...)
        All hidden states, embedding output first (``output_hidden_states=True``).

    Returns
    -------
    torch.Tensor
        ``(L, ...)``: group ``g`` is the mean of its hidden states, in float32.
    """
    import torch

    n = len(hidden_states)
    groups = group_indices(n, selection)
    return torch.stack(
        [torch.stack([hidden_states[i].float() for i in group]).mean(dim=0) for group in groups]
    )


def extractor_section(config: Mapping, modality: str) -> tuple[Mapping, Mapping]:
    """``(data, extractor)``: the config's ``data`` section and, in it, the settings of one
    modality's extractor (``data.{modality}_feature``; video: its ``image`` part); empty
    mappings where absent."""
    data = config.get("data") if isinstance(config, Mapping) else None
    data = data if isinstance(data, Mapping) else {}
    extractor = data.get(f"{modality}_feature")
    extractor = extractor if isinstance(extractor, Mapping) else {}
    if modality == "video" and isinstance(extractor.get("image"), Mapping):
        extractor = extractor["image"]
    return data, extractor


def describe_selection(selection: LayerSelection) -> str:
    """``'fractions [0.5, 0.75, 1.0], group_mean'``: the rule in words, for messages."""
    fractions = ", ".join(f"{f:.4g}" for f in selection.fractions)
    rule = f"fractions [{fractions}], {selection.aggregation or 'no aggregation'}"
    if selection.cache_n_layers is not None:
        rule += f", cache_n_layers {selection.cache_n_layers}"
    return rule


def layer_selection_from_config(config: Mapping, modality: str) -> LayerSelection:
    """The layer selection the checkpoint's ``config.yaml`` asks for, for one modality.

    Parameters
    ----------
    config : Mapping
        The whole config (``berg.tribe.read_tribe_config``).
    modality : {'text', 'audio', 'video'}
        Its extractor settings are ``data.{modality}_feature`` (video: its ``image`` part).

    Returns
    -------
    LayerSelection
        From ``data.layers_to_use`` / ``data.n_layers_to_use`` / the extractor's ``layers``,
        ``data.layer_aggregation`` and the extractor's ``cache_n_layers`` (not for audio,
        which the reference ignores it for); release values where a key is absent.
    """
    data, extractor = extractor_section(config, modality)
    if data.get("layers_to_use") is not None:
        fractions = data["layers_to_use"]
    elif data.get("n_layers_to_use") is not None:
        fractions = np.linspace(0, 1, int(data["n_layers_to_use"])).tolist()
    elif extractor.get("layers") is not None:
        fractions = extractor["layers"]
    else:
        fractions = DEFAULT_FRACTIONS
    if isinstance(fractions, (int, float)):
        fractions = [fractions]
    aggregation = data.get("layer_aggregation", "group_mean")
    cache_n_layers = None if modality == "audio" else extractor.get("cache_n_layers")
    try:
        return LayerSelection(tuple(float(f) for f in fractions), aggregation, cache_n_layers)
    except (InvalidParameterError, TypeError, ValueError) as error:
        raise ModelLoadError(
            f"config.yaml: the {modality} layer settings are invalid: {error}"
        ) from error
