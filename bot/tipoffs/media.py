"""Photo checks, metadata stripping and evidence storage. No Telegram import."""

from __future__ import annotations

import enum
import hashlib
import io
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PHOTO_BYTES = 10 * 1024 * 1024  # sendPhoto's upload limit: bigger would not reach the team
# sendPhoto also wants width + height <= 10,000 and a ratio of at most 20.
MAX_SIDES = 10_000
MAX_RATIO = 20
IMAGE_MIME_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/heic",
                              "image/heif"})


class PhotoProblem(enum.StrEnum):
    NOT_AN_IMAGE = "not_an_image"
    TOO_LARGE = "too_large"
    TOO_MANY_PIXELS = "too_many_pixels"


class PhotoRefused(ValueError):
    """A picture we will not decode or pass on; `problem` says why."""

    def __init__(self, problem: PhotoProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


def check_upload(*, mime_type: str | None, file_size: int | None,
                 is_photo: bool) -> PhotoProblem | None:
    """Refuse what is not a picture or is too big to pass on."""
    if not is_photo and (mime_type or "").lower() not in IMAGE_MIME_TYPES:
        return PhotoProblem.NOT_AN_IMAGE
    if file_size is not None and file_size > MAX_PHOTO_BYTES:
        return PhotoProblem.TOO_LARGE
    return None


def has_metadata(data: bytes) -> bool:
    """Whether the image carries EXIF (camera, time, GPS)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return bool(image.getexif()) or "exif" in image.info
    except (UnidentifiedImageError, OSError):
        return False


def _check_dimensions(width: int, height: int) -> None:
    if (width + height > MAX_SIDES or min(width, height) < 1
            or max(width, height) > MAX_RATIO * min(width, height)):
        raise PhotoRefused(PhotoProblem.TOO_MANY_PIXELS)


def strip_metadata(data: bytes) -> bytes:
    """A JPEG copy with every piece of metadata gone (orientation applied to the pixels).

    Blocking: run it in a worker thread. The size comes from the header before any pixel
    is decoded (`Image.open` is lazy), so a small file declaring a huge picture costs
    nothing; one Telegram could not show as a photo is refused the same way."""
    if len(data) > MAX_PHOTO_BYTES:
        raise PhotoRefused(PhotoProblem.TOO_LARGE)
    try:
        with Image.open(io.BytesIO(data)) as image:
            _check_dimensions(*image.size)
            upright = ImageOps.exif_transpose(image)
            clean = Image.new("RGB", upright.size)
            clean.paste(upright.convert("RGB"))
    except Image.DecompressionBombError as exc:  # Image.open itself refuses the largest
        raise PhotoRefused(PhotoProblem.TOO_MANY_PIXELS) from exc
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError("not an image Pillow can read") from exc
    out = io.BytesIO()
    clean.save(out, "JPEG", quality=88)
    return out.getvalue()


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def save_evidence(media_dir: Path, *, file_unique_id: str, data: bytes, ext: str = "jpg") -> Path:
    """Write the bytes under `media_dir`, named by their unique id; idempotent."""
    safe = "".join(ch for ch in file_unique_id if ch.isalnum() or ch in "-_") or "file"
    path = media_dir / f"{safe}.{ext}"
    media_dir.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        tmp = path.with_suffix(path.suffix + ".part")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path
