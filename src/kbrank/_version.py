"""The single source of kbrank's version (read by pyproject.toml and by the persistence manifest)."""

__version__ = "0.1.0"
