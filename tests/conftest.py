"""Loads the suite's fixtures. They live in :mod:`tests.fixtures`, so tests import
names from there, never from a conftest."""

pytest_plugins = ["tests.fixtures"]
