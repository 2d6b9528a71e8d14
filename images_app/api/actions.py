"""Image actions: metadata updates (D3), deletes (D11, D28), upload (D25), file download, thumbnails."""

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from rest_framework import exceptions as drf_exceptions
from rest_framework.parsers import BaseParser, MultiPartParser
from rest_framework.response import Response

from core.bodies import check_body_size
from core.content_store import is_sha256
from core.downloads import file_response
from core.errors import APIError, invalid_request, not_found
from core.jsonapi import single_document
from core.mixins import LibraryActionsMixin
from images_app.api.resources import ImageResource
from images_app.models import Image
from images_app.services import DELETE_REASONS, IMAGE_UPDATES, delete_image, store_model_refs
from images_app.storage import InvalidImage, image_file_path, store_image_bytes
from images_app.thumbnails import CONTENT_TYPE as THUMBNAIL_TYPE
from images_app.thumbnails import DEFAULT_SIZE, SIZES, cached_thumbnail, thumbnail_etag, thumbnail_path

UPLOAD_HELP = "Send multipart/form-data with a 'file' field, or a raw image/png, image/jpeg or image/webp body"


def upload_too_large(limit):
    return APIError(413, "payload_too_large", f"The upload exceeds the limit of {limit} bytes")


class RawImageParser(BaseParser):
    """A raw request body with an image media type: parsed to its bytes (at most MAX_UPLOAD_BYTES)."""

    media_type = "image/*"
    media_types = ("image/png", "image/jpeg", "image/webp")

    def parse(self, stream, media_type=None, parser_context=None):
        if media_type.split(";")[0].strip().lower() not in self.media_types:
            raise invalid_request(f"Unsupported image type {media_type}. {UPLOAD_HELP}")
        limit = settings.SDHOST["MAX_UPLOAD_BYTES"]
        data = stream.read(limit + 1) if stream is not None else b""
        if len(data) > limit:
            raise upload_too_large(limit)
        return data


class ImageActionsMixin(LibraryActionsMixin):
    """Actions of ImageViewSet besides the reads (names fixed by images_app/api/urls.py)."""

    update_target = IMAGE_UPDATES
    delete_entity = staticmethod(delete_image)
    delete_reasons = DELETE_REASONS
    resource_type = "image"
    noun = "Image"

    def get_parsers(self):
        # Called before `self.action` is set; the upload route maps only POST -> upload.
        if "upload" in getattr(self, "action_map", {}).values():
            return [MultiPartParser(), RawImageParser()]
        return super().get_parsers()

    def content(self, request, pk):
        image = stored_image(pk)
        path = image_file_path(image)
        if not path.is_file():
            raise not_found(f"The file of image {pk} is missing from the store")
        return file_response(
            request, path, content_type=image.content_type, etag=image.hash,
            filename=f"{image.hash}.{image.extension}", disposition="inline",
        )

    def thumbnail(self, request, pk):
        """The image scaled down to `size` (longest side), cached on disk; immutable, so cached by clients too."""
        size = request.GET.get("size", str(DEFAULT_SIZE))
        if size not in {str(s) for s in SIZES}:
            raise APIError(400, "invalid_parameter", f"size must be one of {', '.join(map(str, SIZES))}", parameter="size")
        size = int(size)
        path = cached_thumbnail(pk, size) if is_sha256(pk) else None  # the common case: no database query
        if path is None:
            image = stored_image(pk, fields=("hash", "format"))
            try:
                path = thumbnail_path(image, size)
            except FileNotFoundError:
                raise not_found(f"The file of image {pk} is missing from the store") from None
        response = file_response(request, path, content_type=THUMBNAIL_TYPE, etag=thumbnail_etag(pk, size))
        response["Cache-Control"] = "private, max-age=31536000, immutable"
        return response

    def upload(self, request):
        limit = settings.SDHOST["MAX_UPLOAD_BYTES"]
        check_body_size(request, limit=limit + 64 * 1024)  # multipart framing on top of the file
        try:
            data = request.data
        except drf_exceptions.UnsupportedMediaType:
            raise APIError(415, "unsupported_media_type",
                           f"Unsupported content type {request.content_type or '(none)'}. {UPLOAD_HELP}") from None
        except drf_exceptions.ParseError as exc:
            raise invalid_request(f"Malformed upload: {exc.detail}") from None
        if isinstance(data, (bytes, bytearray)):
            content = bytes(data)
        else:
            content = read_upload(request.FILES.get("file"), limit)
        if not content:
            raise invalid_request(f"The upload is empty. {UPLOAD_HELP}")
        try:
            image, created = store_image_bytes(content, max_pixels=settings.SDHOST["MAX_IMAGE_PIXELS"])
        except InvalidImage as exc:
            raise invalid_request(str(exc)) from None
        if created:  # its PNG infotext's model hashes: linked to the library's models (models_app/links.py)
            store_model_refs([image])
        response = Response(single_document(ImageResource, image, request), status=201 if created else 200)
        response["Location"] = f"/api/images/{image.hash}"
        return response


def stored_image(pk, fields=None):
    """The image row of `pk` (only `fields` loaded if given); 404 not_found if there is none."""
    rows = Image.objects.filter(pk=pk)
    image = (rows.only(*fields) if fields else rows).first() if is_sha256(pk) else None
    if image is None:
        raise not_found(f"Image {pk} not found")
    return image


def read_upload(upload: UploadedFile | None, limit) -> bytes:
    if upload is None:
        raise invalid_request(f"No 'file' field in the upload. {UPLOAD_HELP}")
    if upload.size > limit:
        raise upload_too_large(limit)
    return b"".join(upload.chunks())
