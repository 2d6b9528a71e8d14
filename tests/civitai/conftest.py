"""Fixtures of the Civitai tests (the `civitai` fixture itself is in tests/support/civitai.py)."""

import pytest

from tests.support.api import ApiClient


@pytest.fixture
def client(transactional_db):
    """API client on a committed database: download threads use their own connections."""
    return ApiClient()
