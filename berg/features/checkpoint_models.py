"""What a checkpoint's ``config.yaml`` says about its feature models: each modality's
extractor settings, and the models it names checked against the model card."""

from __future__ import annotations

from collections.abc import Mapping

from berg.errors import ModelLoadError

__all__ = ["check_feature_models", "extractor_section"]


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


def check_feature_models(config: Mapping, card) -> None:
    """Refuse a checkpoint whose ``config.yaml`` names other feature models than ``card``.

    The brain model was trained on the features of the models its config names (its
    ``data.text_feature.model_name``, ``data.audio_feature.model_name``,
    ``data.video_feature.image.model_name``); the card's models would feed it features it
    never saw. A config that names none is taken to use the card's.

    Raises
    ------
    ModelLoadError
        Naming the modality, both models and what to do.
    """
    for modality in ("text", "audio", "video"):
        named = extractor_section(config, modality)[1].get("model_name")
        expected = card.extractor(modality).hub_id
        if isinstance(named, str) and named != expected:
            raise ModelLoadError(
                f"config.yaml: the checkpoint's {modality} features come from {named}, but "
                f"the model card of {card.model_id} extracts them with {expected}; the brain "
                "model would get features it was not trained on. Use the checkpoint of that "
                "card (checkpoints with other feature models, such as TRIBE v2 mini, are not "
                "supported yet)"
            )
