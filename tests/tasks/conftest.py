"""Fixtures of the task tests."""

import pytest

from tasks_app import worker


@pytest.fixture
def render_worker(transactional_db):
    """The render worker, running in this process for the test."""
    started = worker.start_in_process()
    yield started
    worker.stop_in_process()
