"""The `render` channel: `python manage.py runworker render` runs the render worker.

Any message on the channel (`{"type": "render.wake"}`) wakes the worker. Channels creates a
consumer only when a message arrives, so a process launched as `runworker ... render` starts its
worker when the routes are built, and pending tasks are processed at once, not only after a message.
"""

import sys

from channels.consumer import SyncConsumer
from django.conf import settings

from core.database import ensure_schema
from core.store_sweep import sweep_all

from . import worker


class RenderConsumer(SyncConsumer):
    def render_wake(self, message):
        worker.start_in_process().wake()


def launched_as_render_worker(argv=None) -> bool:
    args = sys.argv[1:] if argv is None else argv
    return "runworker" in args and worker.RENDER_CHANNEL in args


def channel_routes():
    if launched_as_render_worker():
        ensure_schema()  # a fresh data directory: `runworker render` may be the first command run

        sweep_all(settings.SDHOST["SWEEP_GRACE_SECONDS"])  # what a crash left in the stores
        worker.start_in_process()
    return {worker.RENDER_CHANNEL: RenderConsumer.as_asgi()}
