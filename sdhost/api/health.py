"""GET /api/health (D42): for load balancers and operators; open without a token, shows no secrets.

200 while the database answers (`status` "ok", or "degraded" when no render worker is alive),
503 "unavailable" when it does not.
"""

from django.db import DatabaseError, connection
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.views import APIView

from core.jsonapi.types import render_timestamp
from tasks_app import queue
from tasks_app.models import Task


class HealthView(APIView):
    def get(self, request):
        try:
            workers = list(queue.live_workers().order_by("started_at", "id"))
            running = list(Task.objects.filter(status="running").values_list("worker_id", "id"))
            pending = Task.objects.filter(status="pending").count()
        except DatabaseError as exc:
            return Response({
                "status": "unavailable",
                "database": {"vendor": connection.vendor, "reachable": False, "error": type(exc).__name__},
                "workers": [], "queue": None,
            }, status=503)
        return Response({
            "status": "ok" if workers else "degraded",
            "database": {"vendor": connection.vendor, "reachable": True},
            "workers": [
                {
                    "id": w.id, "host": w.host, "pid": w.pid, "device": w.device,
                    "checkpoint_hash": w.checkpoint_hash, "running_task": dict(running).get(w.id),
                    "heartbeat_age_seconds": round((timezone.now() - w.heartbeat_at).total_seconds(), 1),
                    "started_at": render_timestamp(w.started_at),
                }
                for w in workers
            ],
            "queue": {"pending": pending, "running": len(running)},
        })
