"""Which versions of berg's dependencies are installed (for provenance, cache keys, doctor)."""

from __future__ import annotations

__all__ = ["installed_version", "installed_versions", "numbers_versions"]


def installed_version(distribution: str) -> str | None:
    """The installed version of a distribution (``'faster-whisper'``), or None."""
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def installed_versions(*distributions: str) -> dict[str, str | None]:
    """``{name: version or None}`` for these distributions, in order."""
    return {name: installed_version(name) for name in distributions}


#: The packages whose versions decide a result's numbers (its provenance records them).
NUMBERS_PACKAGES = (
    "berg-tribe",
    "torch",
    "transformers",
    "numpy",
    "av",
    "faster-whisper",
    "ctranslate2",
    "piper-tts",
)


def numbers_versions() -> dict[str, str]:
    """Versions of the installed :data:`NUMBERS_PACKAGES`, for provenance."""
    versions = installed_versions(*NUMBERS_PACKAGES)
    return {name: version for name, version in versions.items() if version is not None}
