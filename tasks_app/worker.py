"""The render worker (filled in by the Rendering work)."""


def worker_is_running() -> bool:
    return False


def start_in_process() -> None:
    """Start the render worker on a background thread of this process."""
