"""Fixtures of the query-engine tests."""

import pytest

from tests.support.query_seed import seed


@pytest.fixture
def lib(api):
    """The seeded library of tests/support/query_seed.py."""
    return seed()
