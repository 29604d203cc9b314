"""Photos made in the test, as a phone would send them: EXIF time, GPS, orientation, comments."""

from __future__ import annotations

import io

import pillow_heif
from PIL import Image

# 绍兴 柯桥区 (30°05'N 120°29'E) in the degrees, minutes, seconds EXIF keeps
LAT, LON = (30.0, 5.0, 24.0), (120.0, 29.0, 42.0)
LAT_DECIMAL, LON_DECIMAL = 30.09, 120.495


def exif(*, taken: str | None = "2026:06:10 10:20:00", offset: str | None = None,
         gps: bool = True, orientation: int | None = None) -> Image.Exif:
    tags = Image.Exif()
    tags[0x010F] = "PhoneMaker"
    if orientation is not None:
        tags[0x0112] = orientation
    details = tags.get_ifd(0x8769)
    if taken is not None:
        details[0x9003] = taken
    if offset is not None:
        details[0x9011] = offset
    if gps:
        position = tags.get_ifd(0x8825)
        position.update({1: "N", 2: LAT, 3: "E", 4: LON})
    return tags


def jpeg(size: tuple[int, int] = (64, 48), color: str = "green", **tags) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG", exif=exif(**tags), comment=b"phone owner",
                                       xmp=b"<x:xmpmeta>GPSLatitude 30.09</x:xmpmeta>")
    return out.getvalue()


def heic(size: tuple[int, int] = (64, 48), **tags) -> bytes:
    """An iPhone's photo: HEIC (HEVC in HEIF), encoded by pillow-heif's libheif and x265."""
    out = io.BytesIO()
    pillow_heif.from_pillow(Image.new("RGB", size, "blue")).save(
        out, quality=80, exif=exif(**tags).tobytes())
    return out.getvalue()


def png(size: tuple[int, int] = (32, 32), mode: str = "RGBA", **tags) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size).save(out, "PNG", exif=exif(**tags))
    return out.getvalue()


def metadata_of(data: bytes) -> dict:
    """Whatever metadata an image carries: empty for a stripped one."""
    image = Image.open(io.BytesIO(data))
    kept = {k: v for k, v in image.info.items() if k not in ("jfif", "jfif_version",
                                                             "jfif_unit", "jfif_density", "dpi")}
    if image.getexif():
        kept["exif"] = dict(image.getexif())
    return kept
