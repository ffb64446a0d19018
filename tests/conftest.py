"""Shared fixtures are defined per topic in tests/fixtures/ and registered here."""
import importlib.util

pytest_plugins = [
    name
    for name in (
        "tests.fixtures.cluster",
        "tests.fixtures.standin",
        "tests.fixtures.gateway",
    )
    if importlib.util.find_spec(name) is not None
]
