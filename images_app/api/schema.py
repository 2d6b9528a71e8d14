"""OpenAPI declarations for the image endpoints (images-api.md), applied to the views on import."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from core.openapi import (
    BATCH_DELETE_RESULT,
    BATCH_UPDATE_RESULT,
    DELETE_RESULT,
    NOT_A_DOCUMENT,
    PATCH_ERRORS,
    TAG_NAME,
    UPDATE_RESULT,
    batch_delete_request,
    component,
    document_view,
    errors,
    json_body,
    operation,
    path_id,
    read_operations,
    resource_document,
    update_document,
    update_request,
    updated_document,
)

from ..services import IMAGE_UPDATES
from ..thumbnails import DEFAULT_SIZE, SIZES
from .resources import ImageResource
from .views import ImageViewSet

HASH = path_id("SHA256 of the image bytes (64 lower-case hex digits).", public_name="hash", pattern="^[0-9a-f]{64}$")
BINARY = {"type": "string", "format": "binary"}
UPLOADED = {**BINARY, "minLength": 1, "description": "Not empty"}

IMAGE_UPDATE = update_request(
    "ImageUpdate", IMAGE_UPDATES, {"tags": {"type": "array", "items": TAG_NAME}},
    description="D3: `tags` replaces the tag set, `tag_<name>: true|false` adds/removes one tag, every other key is "
                "merged into `metadata` (`null` deletes it); `tags` applies before the flags; no `data` key. Metadata keys: 1-64 characters of A-Z, a-z, 0-9 and `_`.",
    example={"rating": 5, "tag_wallpaper": True, "is_favorite": True, "custom_note": "print this one"},
)
IMAGE_ATTRIBUTES_UPDATE = component("ImageAttributesUpdate", {
    "type": "object",
    "description": "Each key is the D3 key of that name (any key is metadata on images); `metadata`'s keys are "
                   "merged into the image's metadata (`null` deletes one). Tags are the `tags` relationship.",
    "properties": {"metadata": {"type": "object", "additionalProperties": True}},
    "additionalProperties": True,
    "not": {"anyOf": [{"required": [name]} for name in ImageResource.relationships]},
    "example": {"metadata": {"rating": 5, "custom_note": None}},
})

UNKNOWN = "`not_found`: unknown hash"
THUMBNAIL_SIZE = OpenApiParameter(
    "size", {"type": "integer", "enum": list(SIZES), "default": DEFAULT_SIZE}, OpenApiParameter.QUERY,
    description="Longest side of the thumbnail in pixels (the aspect ratio is kept; never larger than the image).",
)
INVALID = "`invalid_request`: body not JSON, wrong shape or a value fails validation (`source.pointer` names it)"

document_view(
    ImageViewSet,
    **read_operations(ImageResource, "image", "images", HASH),
    update_one=operation(
        "images_update", "Update one image's tags and metadata (D3)", parameters=[HASH], request=json_body(IMAGE_UPDATE),
        responses={200: OpenApiResponse(UPDATE_RESULT, description="Updated"), **errors(e400=INVALID, e404=UNKNOWN)},
    ),
    patch_one=operation(
        "images_patch", "Update one image with a JSON:API resource document",
        description="JSON:API's update form of `POST /api/images/{hash}`: `data.attributes` and the `tags` "
                    "relationship are mapped onto the D3 update, which is applied the same way. Answers the "
                    "updated resource document.",
        parameters=[HASH], request=update_document(ImageResource, IMAGE_ATTRIBUTES_UPDATE, ["tags"]),
        responses={200: OpenApiResponse(updated_document(ImageResource), description="Updated"),
                   **errors(e404=UNKNOWN, **PATCH_ERRORS)},
    ),
    batch_update=operation(
        "images_batch_update", "Update several images' tags and metadata",
        request=json_body({"type": "object", "additionalProperties": IMAGE_UPDATE, **NOT_A_DOCUMENT,
                           "description": "Maps image hashes to update objects."}),
        responses={200: OpenApiResponse(BATCH_UPDATE_RESULT, description="Applied; unknown hashes listed in `failed`"),
                   **errors(e400=INVALID + "; nothing changes")},
    ),
    upload=operation(
        "images_upload", "Add an image from uploaded bytes (D25)",
        description="`multipart/form-data` with a `file` field, or the raw bytes with an image content type. "
                    "The bytes are verified; the size limit is a setting (default 50 MB).",
        request={
            "multipart/form-data": {"type": "object", "required": ["file"], "properties": {"file": UPLOADED}},
            "image/png": UPLOADED, "image/jpeg": UPLOADED, "image/webp": UPLOADED,
        },
        responses={
            201: OpenApiResponse(resource_document(ImageResource), description="Stored (new bytes)"),
            200: OpenApiResponse(resource_document(ImageResource), description="The same bytes were already stored"),
            **errors(e400="`invalid_request`: no file, or not a decodable PNG, JPEG or WebP image",
                     e413="`payload_too_large`: over the configured upload limit"),
        },
    ),
    destroy_one=operation(
        "images_destroy", "Delete one image (row and file)", parameters=[HASH],
        responses={200: OpenApiResponse(DELETE_RESULT, description="Deleted"),
                   **errors(e404=UNKNOWN, e409="`image_in_use`: control, init or mask image of a pending or running task (D28, D36)")},
    ),
    batch_destroy=operation(
        "images_batch_destroy", "Delete several images", request=json_body(batch_delete_request("image")),
        responses={200: OpenApiResponse(BATCH_DELETE_RESULT, description="Deleted; others listed in `failed`"),
                   **errors(e400=INVALID)},
    ),
    content=operation(
        "images_content", "The image file", parameters=[HASH],
        responses={
            **{(200, media): OpenApiResponse(BINARY, description="The file as stored")
               for media in ("image/png", "image/jpeg", "image/webp")},
            (206, "image/png"): OpenApiResponse(BINARY, description="Byte range"),
            **errors(e404=UNKNOWN, e416="`range_not_satisfiable`"),
        },
    ),
    thumbnail=operation(
        "images_thumbnail", "A small WebP of the image",
        description="Scaled with Lanczos to `size` on first use and cached on the server (SDHOST_CACHE_PATH). "
                    "The ETag is `<hash>-<size>`; `If-None-Match` answers 304. "
                    "`Cache-Control: private, max-age=31536000, immutable` (an image's bytes never change).",
        parameters=[HASH, THUMBNAIL_SIZE],
        responses={
            (200, "image/webp"): OpenApiResponse(BINARY, description="The thumbnail"),
            304: OpenApiResponse(description="Not modified (If-None-Match matched the ETag)"),
            **errors(e400="`invalid_parameter`: `size` not one of the allowed sizes (`source.parameter`)",
                     e404=UNKNOWN),
        },
    ),
)
