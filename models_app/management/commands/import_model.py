"""manage.py import_model PATH: add a local weights file to the model library."""

from django.core.management.base import CommandError

from core.database import DatabaseCommand
from models_app.models import MODEL_TYPES
from models_app.services import ModelImportError, import_model_file


class Command(DatabaseCommand):
    help = (
        "Import a local .safetensors/.ckpt/.pt/.bin weights file into the model library. Kind and base model "
        "are read from the tensor layout unless given. Prints the file's SHA256 (the model's id)."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="the weights file")
        parser.add_argument("--name", help="display name (default: the file name without extension)")
        parser.add_argument("--type", dest="model_type", choices=MODEL_TYPES, help="model kind (default: inferred)")
        parser.add_argument("--base-model", dest="base_model", help="architecture family, e.g. SD1.5 or SDXL (default: inferred)")

    def handle(self, path, name=None, model_type=None, base_model=None, **options):
        try:
            model, created = import_model_file(path, name=name, model_type=model_type, base_model=base_model)
        except (ModelImportError, OSError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(model.hash)
        what = "Imported" if created else "Already in the library:"
        self.stderr.write(f"{what} '{model.name}' ({model.model_type}, {model.base_model or 'base model unknown'}, {model.size} bytes)")
