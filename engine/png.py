"""PNG output with the generation parameters in WebUI's `parameters` text chunk (D10)."""

import io

from .a1111.infotext import PNG_TEXT_KEY


def encode_png(image, parameters: str) -> bytes:
    """Deterministic PNG bytes (no time chunk) carrying `parameters` (tEXt, or iTXt beyond Latin-1)."""
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text(PNG_TEXT_KEY, parameters)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()
