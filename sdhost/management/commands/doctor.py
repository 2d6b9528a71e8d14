"""`manage.py doctor`: check the installation; exit 1 when something stops SD-Host from serving or rendering."""

from django.core.management.base import BaseCommand, CommandError

from sdhost.doctor import FAIL, WARN, run_checks

MARKS = {"ok": "ok  ", WARN: "WARN", FAIL: "FAIL"}


class Command(BaseCommand):
    help = ("Check Python, torch and the GPU, free disk, the database, Redis, Civitai and the render worker. "
            "Exit status 0 when nothing failed (warnings allowed), 1 otherwise.")
    requires_system_checks = []  # report a broken set-up instead of refusing to run

    def handle(self, *args, **options):
        checks = run_checks()
        width = max(len(check.name) for check in checks)
        for check in checks:
            self.stdout.write(f"{MARKS[check.status]}  {check.name:<{width}}  {check.detail}")
        failed = [c.name for c in checks if c.status == FAIL]
        warned = [c.name for c in checks if c.status == WARN]
        if failed:
            raise CommandError(f"{len(failed)} check(s) failed: {', '.join(failed)}", returncode=1)
        self.stdout.write(f"No failures ({len(warned)} warning(s))." if warned else "All is well.")
