"""The exception hierarchy and its suggestions."""

import pytest

import berg
from berg.errors import did_you_mean, format_choices


@pytest.mark.parametrize(
    "cls, builtin",
    [
        (berg.ModelNotFoundError, LookupError),
        (berg.InvalidParameterError, ValueError),
        (berg.DeviceNotAvailableError, berg.InvalidParameterError),
        (berg.StimulusError, ValueError),
        (berg.ModelLoadError, RuntimeError),
    ],
)
def test_every_error_is_a_berg_error_and_its_builtin(cls, builtin):
    assert issubclass(cls, berg.BERGError)
    assert issubclass(cls, builtin)


def test_did_you_mean_finds_typos_and_case():
    names = ["V1", "V2", "V7", "FFC", "v23ab", "IPS1"]
    assert did_you_mean("V7a", names) == "; did you mean 'V7'?"
    assert did_you_mean("v1", names) == "; did you mean 'V1'?"
    assert did_you_mean("ffc", names) == "; did you mean 'FFC'?"
    assert did_you_mean("IPS", names) == "; did you mean 'IPS1'?"
    assert did_you_mean("hippocampus", names) == ""


def test_format_choices_elides_long_lists():
    assert format_choices(["a", "b"]) == "'a', 'b'"
    text = format_choices([str(i) for i in range(100)], limit=5)
    assert text.startswith("'0', '1', '2', ...") and text.endswith("'99'")
    assert "(96 more)" in text
