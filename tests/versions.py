"""Pinned versions, read from versions.env (the one place they are written)."""
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def load_versions(path=REPO_ROOT / "versions.env"):
    versions = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, dummy, value = line.partition("=")
            versions[key.strip()] = value.strip()
    return versions


VERSIONS = load_versions()
