"""Model ids, aliases and the model card."""

import pytest

from berg import BERG, ModelNotFoundError
from berg.registry import canonical_model_id, get_card, list_model_ids

CANONICAL = "fmri-dascoli_2026-tribe_v2"
ALIAS = "fmri-multi_study-tribe_v2"
MINI = "fmri-dascoli_2026-tribe_v2_mini"


def test_both_ids_name_the_same_model():
    assert list_model_ids() == [CANONICAL, MINI]
    assert list_model_ids(include_aliases=True) == [CANONICAL, MINI, ALIAS]
    assert canonical_model_id(ALIAS) == CANONICAL
    assert get_card(ALIAS) is get_card(CANONICAL)


@pytest.mark.parametrize(
    "bad, suggestion",
    [
        ("fmri-dascoli_2026-tribe_v1", CANONICAL),
        ("fmri-multi_study-tribev2", ALIAS),
        ("FMRI-DASCOLI_2026-TRIBE_V2", CANONICAL),
    ],
)
def test_unknown_ids_suggest_the_closest(bad, suggestion):
    with pytest.raises(ModelNotFoundError) as info:
        canonical_model_id(bad)
    message = str(info.value)
    assert repr(bad) in message
    assert f"did you mean {suggestion!r}" in message
    assert CANONICAL in message and ALIAS in message  # the valid ids are listed


def test_non_string_id_is_rejected():
    with pytest.raises(ModelNotFoundError, match="must be a string"):
        canonical_model_id(42)


def test_card_weights_point_at_the_pinned_hub_files():
    weights = get_card(CANONICAL).weights
    assert weights.hub_repo == "facebook/tribev2"
    assert len(weights.revision) == 40 and int(weights.revision, 16) >= 0
    assert weights.files == ("config.yaml", "best.ckpt")
    assert str(weights.berg_path) == (
        "encoding_models/modality-fmri/train_dataset-dascoli_2026/model-tribe_v2"
    )
    assert weights.license.startswith("CC-BY-NC-4.0")


def test_describe_prints_the_card_and_returns_it(capsys, tmp_path):
    card = BERG(tmp_path).describe(ALIAS)
    text = capsys.readouterr().out
    assert card.model_id == CANONICAL
    assert repr(card) == f"ModelCard({CANONICAL!r})"
    for fact in [
        CANONICAL,
        ALIAS,
        "fsaverage5",
        "20,484",
        "V-JEPA2",
        "Wav2Vec-BERT",
        "Llama-3.2-3B",
        "CC-BY-NC-4.0",
        "hf auth login",
        "Glasser",
        ".mp4",
        ".flac",
        ".txt",
        "'cpu', 'cuda', 'mps' or 'auto'",
        "5 s",
    ]:
        assert fact in text, fact
    # a card is read-only data
    with pytest.raises(TypeError):
        card["name"] = "x"


def test_list_models_from_berg(tmp_path):
    assert BERG(tmp_path).list_models() == [CANONICAL, MINI]
