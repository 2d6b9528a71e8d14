"""Exceptions raised by the render engine."""


class CheckpointError(ValueError):
    """A model file that cannot be used: unreadable, incomplete, or of an unsupported architecture."""


class RenderCancelled(Exception):
    """The render was cancelled through `should_cancel`; the engine stays usable."""
