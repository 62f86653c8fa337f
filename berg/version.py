"""The version of berg (one place: the package, pyproject.toml and provenance read it here)."""

__version__ = "0.1.0"
