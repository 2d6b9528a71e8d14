"""`manage.py import_civitai VERSION_ID` / `--model MODEL_ID`: a Civitai import in the foreground."""

import sys

from django.core.management.base import CommandError
from tqdm import tqdm

from core.database import DatabaseCommand
from core.errors import APIError
from models_app.civitai import manager
from models_app.civitai.mapping import parse_id


class Command(DatabaseCommand):
    help = ("Import a model from Civitai in the foreground with a progress bar (the same path as "
            "POST /api/models/add-from-civitai); prints the model hash.")

    def add_arguments(self, parser):
        parser.add_argument("version_id", nargs="?", help="Civitai model version id")
        parser.add_argument("--model", dest="model_id", help="Civitai model id (its latest version unless VERSION_ID is given)")

    def handle(self, *args, version_id=None, model_id=None, **options):
        if version_id is None and model_id is None:
            raise CommandError("Give a VERSION_ID or --model MODEL_ID")
        try:
            model_id = parse_id(model_id, "model", required=False)
            version_id = parse_id(version_id, "version_id", required=False)
            model, started = manager.start_import(model_id, version_id, background=False)
        except APIError as exc:
            raise CommandError(exc.detail) from None
        if model.status == "downloading":
            self.stderr.write(f"Importing {model.name} ({model.hash})")
            with tqdm(total=model.size, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr,
                      disable=options.get("verbosity", 1) == 0) as bar:
                def show(download):
                    if download.total and download.total != bar.total:
                        bar.total = download.total
                    bar.update(download.bytes_done - bar.n)

                model = manager.manager.run_foreground(model.hash, listener=show)
        if model is None:
            raise CommandError("The model was deleted while it was being imported")
        if model.status == "downloading":
            raise CommandError(f"{model.hash} is being downloaded by another SD-Host process")
        if model.status != "ready":
            raise CommandError(f"Import of {model.hash} failed: {model.error_message}")
        self.stdout.write(model.hash)
