"""Helpers the tests import as plain modules (``pythonpath = ["tests"]`` in pyproject.toml); fixtures live in the
``conftest.py`` of the folder that uses them (shared ones in tests/conftest.py)."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
