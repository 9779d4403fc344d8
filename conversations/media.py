"""What media we store and serve, and how an upload proves it is an image (pure: no models, no storage).

A stored file's extension comes only from the type we verified, never from a client's name or content type,
and the media view serves exactly the content type that extension names — so nothing stored can be served
as HTML or SVG (script) from the tenant's origin."""
from __future__ import annotations

import io
import warnings

# Extension → the Content-Type it is served with. Images are verified by decoding them (Pillow); other media
# (clients' voice notes, videos, documents fetched from providers) keep the extension of their declared type when
# it is one of these, else become .bin (served as an opaque download).
IMAGE_TYPES: dict[str, str] = {
    "jpg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "gif": "image/gif",
}
# Declared type → our extension, for media that is not an image.
OTHER_EXTENSIONS: dict[str, str] = {
    "audio/ogg": "ogg", "audio/opus": "opus", "audio/mpeg": "mp3", "audio/mp4": "m4a", "audio/aac": "aac",
    "audio/amr": "amr", "audio/wav": "wav", "audio/x-wav": "wav", "audio/webm": "weba",
    "video/mp4": "mp4", "video/3gpp": "3gp", "video/quicktime": "mov", "video/webm": "webm",
    "application/pdf": "pdf", "text/plain": "txt", "text/csv": "csv", "application/zip": "zip",
    "application/vnd.rar": "rar", "application/x-rar-compressed": "rar", "application/x-tgsticker": "tgs",
    "application/msword": "doc", "application/vnd.ms-excel": "xls", "application/vnd.ms-powerpoint": "ppt",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
}
MEDIA_TYPES: dict[str, str] = {
    **IMAGE_TYPES,
    **{extension: mimetype for mimetype, extension in reversed(OTHER_EXTENSIONS.items())},
    "bin": "application/octet-stream",
}
# Shown when opened; everything else is only offered as a download (an <audio>/<video> element still plays it).
INLINE_EXTENSIONS = frozenset(IMAGE_TYPES)


# Pillow format name → our extension. Only these decoders are ever tried on an upload.
IMAGE_FORMATS: dict[str, str] = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}


class MediaRejected(ValueError):
    """The bytes are not media we accept; the message says why (shown to the user)."""


def image_verified_extension(data: bytes, *, max_pixels: int) -> str:
    """The extension of an image that really decodes as JPEG, PNG, WebP or GIF with at most `max_pixels`
    pixels (per frame); MediaRejected otherwise. Decodes the (first) frame fully, so a truncated or corrupt
    file fails here, not in a client's viewer."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # We bound the pixel count ourselves, before decoding; Pillow's own bomb warning is noise then.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=list(IMAGE_FORMATS)) as img:
                extension = IMAGE_FORMATS.get(img.format or "")
                width, height = img.size
                if extension is None:
                    raise MediaRejected("Нужна фотография: JPEG, PNG, WebP или GIF.")
                if width < 1 or height < 1 or width * height > max_pixels:
                    raise MediaRejected(f"Слишком большое изображение: {width}×{height} пикселей.")
                img.verify()  # structure and checksums (PNG chunks' CRCs)
            with Image.open(io.BytesIO(data), formats=[img.format]) as img:
                if img.format == "JPEG":
                    img.draft("RGB", (max(1, width // 8), max(1, height // 8)))  # decode at 1/8: all data, less memory
                img.load()
    except MediaRejected:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError, EOFError,
            IndexError, TypeError, MemoryError) as exc:
        raise MediaRejected("Нужна фотография: JPEG, PNG, WebP или GIF.") from exc
    return extension


def media_verified(data: bytes, *, declared: str | None, max_pixels: int) -> tuple[str, str]:
    """(mimetype, extension) of a client's media about to be stored: bytes that are an image, or are declared one,
    must decode as JPEG, PNG, WebP or GIF (MediaRejected otherwise); anything else keeps its declared type when
    OTHER_EXTENSIONS knows it, else becomes application/octet-stream (.bin)."""
    mimetype = (declared or "").split(";", 1)[0].strip().lower()
    try:
        extension = image_verified_extension(data, max_pixels=max_pixels)
    except MediaRejected:
        if mimetype.startswith("image/"):
            raise MediaRejected(f"declared {mimetype[:60]} but is not a JPEG, PNG, GIF or WebP image") from None
    else:
        return IMAGE_TYPES[extension], extension
    if mimetype in OTHER_EXTENSIONS:
        return mimetype, OTHER_EXTENSIONS[mimetype]
    return "application/octet-stream", "bin"


def media_content_type(name: str) -> str | None:
    """The Content-Type a stored file is served with, from its extension; None for anything else (such a file
    — e.g. stored before uploads were verified — is only offered as a download)."""
    _, dot, extension = name.rpartition(".")
    return MEDIA_TYPES.get(extension.lower()) if dot else None
