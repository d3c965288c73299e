"""Shared fixtures. Each fixture module is owned by the part of the code it serves."""

pytest_plugins = [
    "tests.fixtures.simulator",
    "tests.fixtures.app",
]
