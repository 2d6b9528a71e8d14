"""Engine test helpers."""

import hashlib

from engine import ModelFile


def model_file(path, kind, name):
    """The engine's description of a model file on disk."""
    return ModelFile(path=str(path), sha256=hashlib.sha256(path.read_bytes()).hexdigest(), name=name, kind=kind)
