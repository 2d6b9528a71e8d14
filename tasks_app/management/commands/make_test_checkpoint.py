"""manage.py make_test_checkpoint OUT: write a random-weight model file in the real single-file layout."""

from django.core.management.base import BaseCommand, CommandError

from engine.tiny_models import ARCHS, KINDS, write_model_file


class Command(BaseCommand):
    help = (
        "Write a random-weight model file (tiny by default: loads and renders on a CPU in seconds) in the same "
        "key layout as a Civitai download: original LDM keys for checkpoints, VAEs and ControlNets, kohya keys "
        "for LoRAs, emb_params / clip_l+clip_g for embeddings. Deterministic for a given --seed. "
        "Prints the path written."
    )

    def add_arguments(self, parser):
        parser.add_argument("out", help="the .safetensors file to write")
        parser.add_argument("--kind", choices=KINDS, default="checkpoint")
        parser.add_argument("--arch", choices=ARCHS, default="sd15",
                            help="sdxl-vpred: SDXL with the `v_pred` and `ztsnr` marker keys (v-prediction, zero terminal SNR)")
        parser.add_argument("--full-size", action="store_true",
                            help="real-size checkpoint (fp16, ~2 GB for sd15; for benchmarks, takes a while)")
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, out, kind, arch, full_size, seed, **options):
        if seed < 0:
            raise CommandError("--seed must be >= 0")
        if full_size and kind != "checkpoint":
            raise CommandError("--full-size applies to --kind checkpoint only")
        if kind == "controlnet" and arch != "sd15":
            raise CommandError("test ControlNets exist for --arch sd15 only")
        try:
            path = write_model_file(out, kind=kind, arch=arch, seed=seed, full_size=full_size)
        except OSError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(str(path))
