"""manage.py import_model PATH [PATH...]: add weights files, or folders of them, to the model library."""

import os
import sys

from django.core.management.base import CommandError
from tqdm import tqdm

from core.database import DatabaseCommand
from models_app.inspect import MODEL_EXTENSIONS
from models_app.models import MODEL_TYPES
from models_app.scan import ScanReport, remember, scan, verify
from models_app.services import ModelImportError, import_model_file
from models_app.sidecars import folder_hint, read_sidecars


class Command(DatabaseCommand):
    help = (
        "Import local .safetensors/.ckpt/.pt/.pth/.bin weights files, or folders of them (recursively, in the "
        "layouts of AUTOMATIC1111, ComfyUI and InvokeAI), into the model library: copied into the store, or with "
        "--in-place registered where they lie. Kind from the folder, else from the tensor layout; name, "
        "description, trigger words, Civitai ids and cover from sidecar files. One file: prints its SHA256; "
        "folders: prints `<sha256> <path>` per new model and a summary. Files that cannot be imported are "
        "skipped and listed; they never stop the scan."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="*", metavar="PATH", help="weights files and folders")
        parser.add_argument("--in-place", action="store_true",
                            help="register each file where it lies (no copy); SD-Host never changes or deletes it")
        parser.add_argument("--verify", dest="verify_all", action="store_true",
                            help="check every in-place model's file (missing, changed) and update its status")
        parser.add_argument("--name", help="display name (one file only; default: sidecar name, else file name)")
        parser.add_argument("--type", dest="model_type", choices=MODEL_TYPES, help="model kind (default: inferred)")
        parser.add_argument("--base-model", dest="base_model",
                            help="architecture family, e.g. SD1.5 or SDXL (default: inferred)")

    def handle(self, paths, in_place=False, verify_all=False, name=None, model_type=None, base_model=None, **options):
        if not paths and not verify_all:
            raise CommandError("Give at least one PATH, or --verify")
        if name is not None and (len(paths) != 1 or os.path.isdir(paths[0])):
            raise CommandError("--name applies to a single file")
        if len(paths) == 1 and not os.path.isdir(paths[0]):
            self.import_file(paths[0], name, model_type, base_model, in_place)
        elif paths:
            report = scan(paths, in_place=in_place, model_type=model_type, base_model=base_model,
                          progress=lambda files: tqdm(files, desc="Scanning", unit="file", file=sys.stderr,
                                                      disable=None))
            self.print_report(report)
            if report.files == 0:
                raise CommandError(f"No weights files ({', '.join(sorted(MODEL_EXTENSIONS))}) under {', '.join(paths)}")
        if verify_all:
            self.print_report(verify(), verify_only=True)

    def import_file(self, path, name, model_type, base_model, in_place):
        hint = folder_hint(os.path.abspath(path))
        sidecar = read_sidecars(os.path.abspath(path))
        try:
            info = os.stat(path)
            model, created = import_model_file(
                path, name=name, model_type=model_type, base_model=base_model or hint.base_model,
                in_place=in_place, sidecar=sidecar, folder_type=hint.model_type,
            )
        except (ModelImportError, OSError) as exc:
            raise CommandError(str(exc)) from None
        remember(os.path.abspath(path), info, model.hash)
        self.stdout.write(model.hash)
        what = "Imported" if created else "Already in the library:"
        where = f", in place at {model.local_path}" if model.local_path else ""
        self.stderr.write(f"{what} '{model.name}' ({model.model_type}, {model.base_model or 'base model unknown'}, "
                          f"{model.size} bytes{where})")
        for source, problem in sidecar.problems:
            self.stderr.write(f"  note: {source}: {problem}")

    def print_report(self, report: ScanReport, verify_only=False):
        for path, model in report.imported:
            self.stdout.write(f"{model.hash} {path}")
        if not verify_only:
            megabytes = report.hashed_bytes / 1e6
            self.stderr.write(
                f"Scanned {report.files} weights files: {len(report.imported)} imported, "
                f"{len(report.relinked)} made ready again, {report.known} already in the library; "
                f"hash cache: {report.cached} hits, {report.hashed} files hashed ({megabytes:.1f} MB); "
                f"{report.companions} companion files (previews, sidecars); {len(report.skipped)} skipped"
            )
        for path, why in report.skipped:
            self.stderr.write(f"  skipped: {path}: {why}")
        for path, what in report.notes:
            self.stderr.write(f"  note: {path}: {what}")
        for model, old, new in report.status_changes:
            self.stderr.write(f"  {model.hash} '{model.name}': {old} -> {new} ({model.local_path})")
        if verify_only:
            self.stderr.write(f"Verified in-place models: {len(report.status_changes)} status changes, "
                              f"{report.hashed} files hashed")
