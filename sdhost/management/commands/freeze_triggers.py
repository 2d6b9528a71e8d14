"""`manage.py freeze_triggers [--check]`: freeze the trigger SQL the code now writes as the next version.

Migrations install trigger sets from frozen SQL (core/triggers.py, core/trigger_sql/). After changing the code that
writes a set's SQL (core/tag_counts.py, core/row_keys.py, core/prompt_search.py), run this command: it writes the
sets whose SQL differs from their newest frozen version into core/trigger_sql/v<N+1>.<vendor>.sql; then add a
migration with `core.triggers.upgrade_step(name, N+1)` for each (`new_set_step` for a new set). `--check` only
reports the sets that differ (exit status 1).
"""

from django.core.management.base import BaseCommand, CommandError

from core.prompt_search import prompt_search_sets
from core.row_keys import RowKeys
from core.tag_counts import LinkCounts, RowCounts, TagUsageDelete
from core.triggers import VENDORS, frozen, frozen_versions, latest_version, version_path, versions_of, write_version
from system_app.models import Tag


def trigger_sets():
    """Every trigger set, as the code now writes it."""
    sets = [TagUsageDelete()]
    for counted in Tag.counted_links():
        sets += [LinkCounts(counted), RowCounts(counted.entity), RowKeys(counted)]
    return sets + prompt_search_sets()


def changed_sets():
    """The sets whose SQL differs from their newest frozen version (or that no version holds)."""
    return [trigger_set for trigger_set in trigger_sets()
            if not versions_of(trigger_set.name) or any(
                trigger_set.sql(vendor) != frozen(trigger_set.name, latest_version(trigger_set.name), vendor)
                for vendor in VENDORS)]


class Command(BaseCommand):
    help = "Write the trigger sets whose SQL changed into a new frozen version (core/trigger_sql/)."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="only report the changed sets (exit status 1)")

    def handle(self, *args, check=False, **options):
        changed = changed_sets()
        if not changed:
            self.stdout.write("Every trigger set is frozen as the code writes it.")
            return
        names = ", ".join(trigger_set.name for trigger_set in changed)
        if check:
            raise CommandError(f"Trigger SQL differs from its newest frozen version: {names}")
        version = max(frozen_versions()) + 1
        for vendor in VENDORS:
            version_path(version, vendor).write_text(
                write_version({trigger_set.name: trigger_set.sql(vendor) for trigger_set in changed}, vendor))
        self.stdout.write(f"Froze version {version}: {names}. Install it with a migration: "
                          f"core.triggers.upgrade_step(name, {version}) per set.")
