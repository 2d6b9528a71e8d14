"""`manage.py sweep_stores`: remove temporary and unreferenced files that crashes left in the content stores."""

from django.conf import settings
from django.core.management.base import BaseCommand

from core.store_sweep import sweep_all


class Command(BaseCommand):
    help = (
        "Remove temporary files and store files no row refers to, once older than the grace period "
        "(default SDHOST_SWEEP_GRACE_SECONDS). Safe while servers and workers run, unless --grace-seconds is "
        "shorter than the longest write."
    )

    def add_arguments(self, parser):
        parser.add_argument("--grace-seconds", type=float, default=None,
                            help="Minimum age of a file to remove (default SDHOST_SWEEP_GRACE_SECONDS, 3600)")

    def handle(self, *args, grace_seconds=None, **options):
        grace = settings.SDHOST["SWEEP_GRACE_SECONDS"] if grace_seconds is None else grace_seconds
        for result in sweep_all(grace):
            self.stdout.write(f"{result.store}: removed {len(result.temp_files)} temporary and "
                              f"{len(result.orphans)} unreferenced file(s)")
