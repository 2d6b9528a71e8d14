"""Fixtures of the task and worker tests."""

import pytest

from engine.tiny_models import write_model_file
from models_app.services import import_model_file


@pytest.fixture
def checkpoints(transactional_db, tmp_path):
    """Three tiny SD1.5 checkpoints imported into the library."""
    return [
        import_model_file(write_model_file(tmp_path / f"ckpt-{i}.safetensors", seed=i), name=f"tiny-{i}")[0]
        for i in range(3)
    ]
