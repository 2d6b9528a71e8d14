"""`manage.py civitai_sync [--all] [HASH...]`: look models up on Civitai by their SHA256 and fill in what they lack
(models_app/civitai/sync.py)."""

import sys

from django.core.management.base import CommandError
from tqdm import tqdm

from core.content_store import is_sha256
from core.database import DatabaseCommand
from core.errors import APIError
from models_app.civitai import sync
from models_app.civitai.manager import ensure_enabled
from models_app.models import SDModel


class Command(DatabaseCommand):
    help = ("Look models without Civitai data up on Civitai by their SHA256 and fill in name, description, base "
            "model, tags, trigger words, ids and cover. Offline lookups are recorded and retried by the next run; "
            "files Civitai does not know are recorded as not_found and skipped unless --retry-not-found.")

    def add_arguments(self, parser):
        parser.add_argument("hashes", nargs="*", metavar="HASH", help="model hashes (SHA256)")
        parser.add_argument("--all", action="store_true", help="every model without Civitai data")
        parser.add_argument("--retry-not-found", action="store_true",
                            help="with --all: also the models Civitai did not know last time")

    def handle(self, *args, hashes=(), all=False, retry_not_found=False, **options):
        try:
            ensure_enabled()
        except APIError as exc:
            raise CommandError(exc.detail) from None
        if bool(hashes) == all:
            raise CommandError("Give model hashes or --all")
        for model_hash in hashes:
            if not is_sha256(model_hash) or not SDModel.objects.filter(pk=model_hash).exists():
                raise CommandError(f"No model with hash {model_hash!r}")
        targets = sync.due_hashes(retry_not_found) if all else list(dict.fromkeys(hashes))
        with tqdm(total=len(targets), unit="model", file=sys.stderr, disable=options.get("verbosity", 1) == 0) as bar:
            def show(model_hash, state):
                bar.update(1)
                if options.get("verbosity", 1) > 1:
                    bar.write(f"{model_hash} {state['state']}", file=sys.stderr)

            counts = sync.sync_many(targets, on_result=show)
        self.stdout.write(", ".join(f"{state}: {count}" for state, count in sorted(counts.items())) or "nothing to sync")
