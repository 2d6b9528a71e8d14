"""Channels consumers of the `render` channel (filled in by the Rendering work)."""


def channel_routes():
    return {}
