"""Images named in a table's column: the format ``modelreuse fit/predict --image-column`` reads.

Each cell of the column is the path of one image file, **relative to the folder of the table** (a
``train.csv`` next to an ``images/`` folder holds ``images/0001.png``). A file is either

- a PNG, JPEG, BMP or GIF (``.png``, ``.jpg``, ``.jpeg``, ``.bmp``, ``.gif``; its first frame),
  read with Pillow: grey modes (``L``, ``1``, ``LA``, ``I``, ``I;16``) become grey ``(H, W)``
  images, every other mode RGB ``(H, W, 3)``; or
- a NumPy ``.npy`` array ``(H, W)``, ``(H, W, 1)`` or ``(H, W, 3)`` of pixel values in 0..255,
  read with ``allow_pickle=False`` (an object array is refused, never unpickled).

All images of a table must have the same height, width and channel count (resize them first); the
pixels then go through :func:`modelreuse.models.extractors.check_images` like an array passed to
``Client.fit``. Safety: a path must be relative and stay inside the table's folder (no ``..``
escape, no absolute path, links resolved first), a file may hold at most :data:`MAX_PIXELS` pixels
(checked from the header, before decoding) and :data:`MAX_FILE_BYTES` bytes. Every problem is an
:class:`~modelreuse.errors.InvalidTaskDataError` naming the row and the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from modelreuse.errors import InvalidTaskDataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
NPY_SUFFIX = ".npy"
MAX_PIXELS = 4096 * 4096
MAX_FILE_BYTES = 64 * 1024**2
GREY_MODES = ("L", "1", "LA", "I", "I;16")

__all__ = ["read_image_column", "read_image_file", "IMAGE_SUFFIXES", "NPY_SUFFIX", "MAX_PIXELS", "MAX_FILE_BYTES"]


def read_image_column(values: Any, base: str | Path) -> np.ndarray:
    """The images named by ``values`` (paths relative to the folder ``base``) as one uint8 array
    ``(n, H, W)`` or ``(n, H, W, 3)`` (module doc for the format and the checks)."""
    base = Path(base).resolve()
    values = list(values)
    if not values:
        raise InvalidTaskDataError("the image column has no rows")
    images, first = [], None
    for row, value in enumerate(values):
        image = read_image_file(_inside(value, base, row), row)
        if first is None:
            first = (row, value, image.shape)
        elif image.shape != first[2]:
            raise InvalidTaskDataError(
                f"row {row}: image {value!r} has shape {image.shape}, but row {first[0]} ({first[1]!r}) has "
                f"{first[2]}; all images of a table must have the same size and channels: resize them first")
        images.append(image)
    from modelreuse.models.extractors import check_images

    return check_images(np.stack(images))


def read_image_file(path: Path, row: int = 0) -> np.ndarray:
    """One image file as an array ``(H, W)`` or ``(H, W, 3)`` (module doc)."""
    suffix = path.suffix.lower()
    if suffix not in (*IMAGE_SUFFIXES, NPY_SUFFIX):
        raise InvalidTaskDataError(f"row {row}: {path.name} is not an image file this reader takes; use "
                                   f"{', '.join((*IMAGE_SUFFIXES, NPY_SUFFIX))}")
    if not path.is_file():
        raise InvalidTaskDataError(f"row {row}: image file {path} does not exist (paths are relative to the "
                                   "table's folder)")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise InvalidTaskDataError(f"row {row}: {path.name} is larger than {MAX_FILE_BYTES // 1024**2} MiB; "
                                   "downscale the image")
    image = _read_npy(path, row) if suffix == NPY_SUFFIX else _read_picture(path, row)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] != 3) or min(image.shape[:2]) < 1:
        raise InvalidTaskDataError(f"row {row}: {path.name} holds an array of shape {image.shape}; an image is "
                                   "(H, W) grey or (H, W, 3) RGB (channels last)")
    if image.size > 3 * MAX_PIXELS:
        raise InvalidTaskDataError(f"row {row}: {path.name} has more than {MAX_PIXELS} pixels; downscale it")
    return image


def _inside(value: Any, base: Path, row: int) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise InvalidTaskDataError(f"row {row}: the image column holds {value!r}, not the path of an image file")
    relative = Path(value.strip())
    if relative.is_absolute() or relative.drive:
        raise InvalidTaskDataError(f"row {row}: image path {value!r} is absolute; give paths relative to the "
                                   f"table's folder {base}")
    path = (base / relative).resolve()
    if not path.is_relative_to(base):
        raise InvalidTaskDataError(f"row {row}: image path {value!r} leaves the table's folder {base}; keep the "
                                   "images in (a subfolder of) the table's folder")
    return path


def _read_npy(path: Path, row: int) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except ValueError as exc:  # an object array (pickle) or a malformed header
        raise InvalidTaskDataError(f"row {row}: {path.name} is not a plain numeric .npy array ({exc})") from None
    except OSError as exc:
        raise InvalidTaskDataError(f"row {row}: cannot read {path.name}: {exc}") from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "uif":
        raise InvalidTaskDataError(f"row {row}: {path.name} must hold numeric pixels, got "
                                   f"{getattr(array, 'dtype', type(array).__name__)}")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise InvalidTaskDataError(f"row {row}: {path.name} holds NaN or infinite pixels")
    if array.size and (array.min() < 0 or array.max() > 255):
        raise InvalidTaskDataError(f"row {row}: {path.name} has pixels outside 0..255; scale them, e.g. "
                                   "(x * 255).astype('uint8')")
    return array.astype(np.uint8)


def _read_picture(path: Path, row: int) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as picture:
            width, height = picture.size
            if width * height > MAX_PIXELS:
                raise InvalidTaskDataError(f"row {row}: {path.name} is {width}x{height} pixels, more than "
                                           f"{MAX_PIXELS}; downscale it")
            picture.seek(0)
            converted = picture.convert("L" if picture.mode in GREY_MODES else "RGB")
            return np.asarray(converted, dtype=np.uint8)
    except InvalidTaskDataError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise InvalidTaskDataError(f"row {row}: cannot read image {path.name}: {exc}") from None
