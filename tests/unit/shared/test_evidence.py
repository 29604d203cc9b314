"""Reading an evidence photo: the type by its bytes, the EXIF kept, the copy served stripped."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import pytest
from PIL import Image

from shared import evidence
from shared.errors import ApiError
from tests.photos import LAT_DECIMAL, LON_DECIMAL, heic, jpeg, metadata_of, png

BEIJING = timezone(timedelta(hours=8))


def refusal(data: bytes) -> ApiError:
    with pytest.raises(ApiError) as caught:
        evidence.read_photo(data)
    return caught.value


def test_a_jpeg_keeps_its_time_and_position_and_is_served_without_any_metadata():
    photo = evidence.read_photo(jpeg())
    assert photo.content_type == "image/jpeg"
    assert photo.taken_at == datetime(2026, 6, 10, 10, 20, tzinfo=BEIJING)
    assert photo.location == {"lat": pytest.approx(LAT_DECIMAL), "lon": pytest.approx(LON_DECIMAL)}
    assert metadata_of(jpeg())["exif"] and metadata_of(photo.content) == {}
    for secret in (b"GPSLatitude", b"phone owner", b"PhoneMaker"):
        assert secret in jpeg() and secret not in photo.content
    assert Image.open(io.BytesIO(photo.content)).size == (64, 48)


def test_a_png_is_served_as_png_without_its_exif():
    photo = evidence.read_photo(png())
    assert photo.content_type == "image/png" and photo.location is not None
    assert metadata_of(photo.content) == {}
    assert Image.open(io.BytesIO(photo.content)).mode == "RGBA"


def test_an_iphones_heic_keeps_its_time_and_position_and_is_served_as_a_plain_jpeg():
    original = heic(orientation=6)
    assert original[4:12] == b"ftypheic"
    photo = evidence.read_photo(original)
    assert (photo.content_type, photo.original_content_type) == ("image/jpeg", "image/heic")
    assert photo.taken_at == datetime(2026, 6, 10, 10, 20, tzinfo=BEIJING)
    assert photo.location == {"lat": pytest.approx(LAT_DECIMAL), "lon": pytest.approx(LON_DECIMAL)}
    served = Image.open(io.BytesIO(photo.content))
    assert served.format == "JPEG" and served.size == (48, 64)  # stood up as on the phone
    assert metadata_of(photo.content) == {} and b"PhoneMaker" not in photo.content


def test_a_damaged_heic_is_422():
    assert refusal(heic()[:200]).status == 422


def test_the_orientation_is_applied_to_the_pixels_before_the_exif_goes():
    photo = evidence.read_photo(jpeg(size=(64, 48), orientation=6))  # rotated 90° on the phone
    assert Image.open(io.BytesIO(photo.content)).size == (48, 64)


def test_an_offset_written_by_the_camera_is_honoured_and_a_blank_clock_is_no_time():
    assert evidence.read_photo(jpeg(offset="+02:00")).taken_at == datetime(
        2026, 6, 10, 10, 20, tzinfo=timezone(timedelta(hours=2)))
    assert evidence.read_photo(jpeg(taken="0000:00:00 00:00:00")).taken_at is None
    assert evidence.read_photo(jpeg(taken=None, gps=False)).location is None


def test_the_type_is_read_from_the_bytes_not_from_a_name_or_header():
    assert refusal(b"GIF89a" + b"\0" * 100).status == 415
    assert refusal(b"%PDF-1.7 not a photo").status == 415
    assert refusal(b"").status == 415


def test_a_photo_too_large_is_413_before_it_is_decoded():
    big = jpeg() + b"\0" * evidence.MAX_BYTES
    assert refusal(big).status == 413


@pytest.mark.parametrize("damage", [
    lambda data: data[: len(data) // 2],  # cut short on the way
    lambda data: data[:3] + b"\0" * (len(data) - 3),  # the magic number and nothing else
])
def test_a_damaged_photo_is_422(damage):
    assert refusal(damage(jpeg(size=(400, 300)))).status == 422


def test_a_small_file_of_too_many_pixels_is_422():
    out = io.BytesIO()
    Image.new("1", (8000, 7000)).save(out, "PNG")  # 56 million pixels in a few kilobytes
    assert len(out.getvalue()) < evidence.MAX_BYTES
    error = refusal(out.getvalue())
    assert error.status == 422 and error.errors == {"file": ["Too many pixels."]}


def test_only_uuid_entries_are_photo_references():
    assert evidence.is_reference("6f1c2a5e-0b7d-4c8e-9a1f-3d2b4c5e6f70")
    assert not evidence.is_reference("整改照片.jpg")
    assert not evidence.is_reference("https://example.org/6f1c2a5e-0b7d-4c8e-9a1f-3d2b4c5e6f70")
