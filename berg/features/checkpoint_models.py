"""The feature models a checkpoint was trained on: which models, which layers, what sizes.

A TRIBE v2 checkpoint says it all itself. Its ``config.yaml`` names each modality's model
(``data.text_feature.model_name``, ``data.audio_feature.model_name``,
``data.video_feature.image.model_name``) and how its hidden states were averaged (section 4
of docs/inference.md); its ``best.ckpt`` says, in ``model_build_args.feature_dims``, the
``(L, D)`` features the brain model reads: ``L`` layer groups of ``D`` numbers. The
checkpoint decides; the model card is the fallback where its config names no model (the
release's config names the card's), and supplies what a config cannot say (the pinned
revision, the environment variable, the known sizes). So the TRIBE v2 mini checkpoint
(Qwen3-0.6B, V-JEPA 2 ViT-L, one hidden state each) runs with its own models whichever card
it is loaded with.

A model that cannot produce the features the brain model reads is refused, naming both
shapes: at load time for the models whose sizes a card records (before any download), and
for any other model when its ``config.json`` is read, before its weights are.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from berg.errors import ModelLoadError
from berg.features.layers import (
    LayerSelection,
    describe_selection,
    extractor_section,
    layer_selection_from_config,
)
from berg.registry import MODALITIES, ModelCard, PretrainedSpec, known_feature_model

__all__ = ["FeatureModel", "checkpoint_feature_models", "named_model"]


def named_model(config: Mapping, modality: str) -> str | None:
    """The Hub id the checkpoint's ``config.yaml`` names for a modality (None: none)."""
    named = extractor_section(config, modality)[1].get("model_name")
    return named if isinstance(named, str) and named.strip() else None


@dataclass(frozen=True)
class FeatureModel:
    """One modality's feature model as a checkpoint uses it.

    Attributes
    ----------
    spec : PretrainedSpec
        Which model (Hub id, revision, environment variable, known sizes).
    layers : LayerSelection
        How its hidden states become layer groups (from the checkpoint's config).
    feature_dims : tuple of int or None
        ``(L, D)`` the brain model reads for this modality; None when not known (no brain
        model loaded yet, or a modality it does not read).
    named_by : {'checkpoint', 'card'}
        Whether the checkpoint's config named the model, or the card's was taken.
    """

    spec: PretrainedSpec
    layers: LayerSelection
    feature_dims: tuple[int, int] | None = None
    named_by: str = "card"

    @property
    def modality(self) -> str:
        return self.spec.modality

    def produces(self, num_hidden_layers: int, hidden_size: int) -> tuple[int, int]:
        """``(L, D)``: the features a model of this depth and width gives under `layers`."""
        return self.layers.n_groups(int(num_hidden_layers) + 1), int(hidden_size)

    def check_sizes(self, num_hidden_layers: int, hidden_size: int, *, source: str) -> None:
        """Refuse a model whose features the brain model cannot read.

        Parameters
        ----------
        num_hidden_layers, hidden_size : int
            The model's depth and width (``config.json``).
        source : str
            Where they come from, for the message (``"the model card"``, a folder).

        Raises
        ------
        ModelLoadError
            The shapes differ: the message names the model, both shapes and the rule.
        """
        if self.feature_dims is None:
            return
        produced = self.produces(num_hidden_layers, hidden_size)
        if tuple(produced) == tuple(self.feature_dims):
            return
        expected_l, expected_d = self.feature_dims
        origin = (
            "the model its config.yaml names"
            if self.named_by == "checkpoint"
            else "the model card's (its config.yaml names none)"
        )
        raise ModelLoadError(
            f"the checkpoint's brain model reads {self.modality} features of {expected_l} "
            f"layer group(s) x {expected_d} (best.ckpt: model_build_args.feature_dims), but "
            f"{self.spec.hub_id}, {origin}, has {int(num_hidden_layers) + 1} hidden states "
            f"of {int(hidden_size)} (according to {source}), which its layer rule "
            f"({describe_selection(self.layers)}) makes {produced[0]} x {produced[1]}. The "
            "checkpoint was trained on another model's features: give the folder of the "
            f"model it was trained on (--{self.modality}-model-dir; {self.modality}_model_dir= "
            f"in Python; ${self.spec.env_var}), or use the checkpoint of this model"
        )


def _spec_for(card: ModelCard, modality: str, hub_id: str | None) -> tuple[PretrainedSpec, str]:
    fallback = card.extractor(modality)
    if hub_id is None or hub_id == fallback.hub_id:
        return fallback, "card" if hub_id is None else "checkpoint"
    known = known_feature_model(modality, hub_id)
    if known is not None:  # another card pins it (TRIBE v2 mini's models, say)
        return known, "checkpoint"
    # A model no card knows: its newest commit (recorded with the results), found the usual
    # ways; its sizes are checked once its config.json is read.
    return PretrainedSpec(modality, hub_id, "main", fallback.env_var), "checkpoint"


def checkpoint_feature_models(
    config: Mapping,
    card: ModelCard,
    feature_dims: Mapping[str, tuple[int, int]] | None = None,
    *,
    folders_given: Collection[str] = (),
) -> dict[str, FeatureModel]:
    """Each modality's feature model as the checkpoint uses it, its known sizes checked.

    Parameters
    ----------
    config : Mapping
        The checkpoint's ``config.yaml`` (``berg.tribe.read_tribe_config``).
    card : ModelCard
        The fallback for a modality whose model the config does not name.
    feature_dims : mapping of modality to (L, D), optional
        What the brain model reads (``TribeBrainModel.feature_dims``).
    folders_given : collection of str
        Modalities whose model comes from a folder the user names (an argument; the
        spec's environment variable counts too): that folder's ``config.json`` decides its
        sizes, checked when the extractor is built, not the card's.

    Returns
    -------
    dict
        modality -> FeatureModel, in :data:`MODALITIES` order.

    Raises
    ------
    ModelLoadError
        The layer settings are invalid, or a model whose sizes a card records cannot
        produce the features the brain model reads.
    """
    models = {}
    for modality in MODALITIES:
        spec, named_by = _spec_for(card, modality, named_model(config, modality))
        dims = (feature_dims or {}).get(modality)
        model = FeatureModel(
            spec=spec,
            layers=layer_selection_from_config(config, modality),
            feature_dims=None if dims is None else (int(dims[0]), int(dims[1])),
            named_by=named_by,
        )
        from_folder = modality in folders_given or bool(os.environ.get(spec.env_var))
        known = spec.num_hidden_layers is not None and spec.hidden_size is not None
        if known and not from_folder:
            model.check_sizes(spec.num_hidden_layers, spec.hidden_size, source="its model card")
        models[modality] = model
    return models
