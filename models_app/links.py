"""Images linked to the models they were made with (models_app.ImageModel; docs/library.md "Images and their
models").

An imported image names its models by hash (images_app.ImageModelRef): A1111's AutoV2 (the first 10 hex digits of
the SHA256) or a full SHA256. A reference links every library model of its role whose SHA256 starts with that hash.
Two library models sharing an AutoV2 prefix are both linked (an ambiguous prefix links all): the image keeps its
hash, so the gallery rather shows one image too many under a model than hides it, and such collisions are rare.
Links are made both ways: when the image is imported (models already there) and when a model arrives (images
already there).
"""

from images_app.models import ImageModelRef
from models_app.models import ImageModel, SDModel

AUTOV2_LENGTH = 10
HEX_END = "g"  # sorts after every hex digit: [prefix, prefix + "g") is "starts with prefix", as an index range


def link_image_refs(image_hashes) -> int:
    """Link the references of these images to the models in the library; returns the links made."""
    links = []
    for ref in ImageModelRef.objects.filter(image_id__in=image_hashes).order_by("image_id", "id"):
        matches = SDModel.objects.filter(model_type=ref.role, hash__gte=ref.hash, hash__lt=ref.hash + HEX_END)
        links += [ImageModel(image_id=ref.image_id, model_id=sha, role=ref.role)
                  for sha in matches.values_list("hash", flat=True)]
    return len(ImageModel.objects.bulk_create(links, ignore_conflicts=True)) if links else 0


def link_model_images(model: SDModel) -> int:
    """Link a model that has just arrived to the images already imported whose references it matches (its full
    SHA256, its AutoV2, or any prefix between); returns the links made."""
    prefixes = [model.hash[:length] for length in range(AUTOV2_LENGTH, len(model.hash) + 1)]
    refs = ImageModelRef.objects.filter(role=model.model_type, hash__in=prefixes)
    links = [ImageModel(image_id=image_id, model_id=model.hash, role=model.model_type)
             for image_id in refs.values_list("image_id", flat=True).distinct()]
    return len(ImageModel.objects.bulk_create(links, ignore_conflicts=True, batch_size=1000)) if links else 0


def on_model_refs_stored(sender, image_hashes, **kwargs):
    """images_app.model_refs_stored: an import recorded references."""
    link_image_refs(image_hashes)


def on_model_saved(sender, instance, created, raw=False, **kwargs):
    """post_save of SDModel: a new model row links to the images that name it."""
    if created and not raw:
        link_model_images(instance)
