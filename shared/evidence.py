"""Evidence photos, shared by the services that own items and inspections (docs/evidence.md).

An upload is checked by its bytes (magic number, then a full decode with Pillow, and
pillow-heif for an iPhone's HEIC), its EXIF time and GPS position are read and kept as metadata
for the city, and what is stored and served is a re-encoding without any metadata (EXIF, XMP,
comments): the position of a village informant's phone never leaves the service. A HEIC photo
is served as JPEG, which every browser shows. Photos are kept in MongoDB GridFS, one file per
photo under the evidence id, with its owner (``item:<id>`` or ``inspection:<id>``) in its
metadata; nothing is written before the photo has been read whole and found good.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import gridfs
import pillow_heif
from flask import Response, request
from flask_smorest.fields import Upload
from marshmallow import Schema, fields
from PIL import Image, ImageOps, UnidentifiedImageError
from pymongo.database import Database

from shared.errors import ApiError, Conflict, Unprocessable

MAX_BYTES = 10 * 1024 * 1024
# A 48-megapixel phone photo passes; a small file that decodes to gigabytes of pixels does not.
MAX_PIXELS = 50_000_000
JPEG, PNG, HEIC = "image/jpeg", "image/png", "image/heic"
_FORMATS = {JPEG: "JPEG", PNG: "PNG", HEIC: "HEIF"}
_SERVED_AS = {JPEG: JPEG, PNG: PNG, HEIC: JPEG}
_EXTENSIONS = {JPEG: "jpg", PNG: "png"}
# The major brands of the ISO base media file ("ftyp" box) that are HEIF images of HEVC.
_HEIC_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"mif1")
pillow_heif.register_heif_opener()
BUCKET = "evidence"
ABANDONED_AFTER = timedelta(minutes=2)
# Served bytes never change under their id: browsers and the phone keep them for a year, and
# only for the signed-in user (``private``), never in a shared cache.
CACHE_CONTROL = "private, max-age=31536000, immutable"
# EXIF times are the camera's local time without an offset unless it wrote one; a camera in
# this city keeps Beijing time.
BEIJING = timezone(timedelta(hours=8))
_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

# EXIF tags (CIPA DC-008)
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_DATETIME, _DATETIME_ORIGINAL, _OFFSET_ORIGINAL = 0x0132, 0x9003, 0x9011
_LAT_REF, _LAT, _LON_REF, _LON = 1, 2, 3, 4


def is_reference(entry: str) -> bool:
    """Whether an ``evidence`` entry names an uploaded photo (its id); other entries are free
    references (a link, a document number) kept as text."""
    return bool(_ID.match(entry))


@dataclass(frozen=True)
class Photo:
    """A photo read from an upload: the bytes to serve and what was kept from the original."""

    content: bytes
    content_type: str  # of what is served
    original_content_type: str
    taken_at: datetime | None
    location: dict | None  # {"lat": …, "lon": …} in decimal degrees, WGS 84
    original_size: int
    original_sha256: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def read_photo(data: bytes) -> Photo:
    """Check an upload and make its served copy; 413, 415 or 422 when it is not a good photo."""
    if len(data) > MAX_BYTES:
        raise ApiError(f"The photo is {len(data):,} bytes; at most {MAX_BYTES:,} are taken.",
                       status=413, title="Content Too Large",
                       errors={"file": [f"Larger than {MAX_BYTES // (1024 * 1024)} MB."]})
    content_type = sniff(data)
    if content_type is None:
        raise ApiError("Only JPEG, PNG and HEIC photos are taken; the file's bytes are none of "
                       "them.", status=415, title="Unsupported Media Type",
                       errors={"file": ["Not a JPEG, PNG or HEIC image."]})
    image = _decode(data, content_type)
    exif = image.getexif()
    served_type = _SERVED_AS[content_type]
    served = _strip(image, served_type)
    return Photo(content=served, content_type=served_type, original_content_type=content_type,
                 taken_at=_taken_at(exif),
                 location=_location(exif), original_size=len(data),
                 original_sha256=hashlib.sha256(data).hexdigest())


def sniff(data: bytes) -> str | None:
    """The type the bytes say they are, whatever the upload's declared type."""
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data[4:8] == b"ftyp" and data[8:12] in _HEIC_BRANDS:
        return HEIC
    return None


def _decode(data: bytes, content_type: str) -> Image.Image:
    too_many = Unprocessable("The photo has more pixels than the most taken "
                             f"({MAX_PIXELS:,}).", errors={"file": ["Too many pixels."]})
    try:
        image = Image.open(io.BytesIO(data), formats=[_FORMATS[content_type]])
        if image.width * image.height > MAX_PIXELS:
            raise too_many
        image.load()
    except Image.DecompressionBombError as exc:
        raise too_many from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise Unprocessable(
            f"The file starts as a {_FORMATS[content_type]} image but cannot be decoded: {exc}.",
            errors={"file": ["Damaged or truncated image."]}) from exc
    return image


def _strip(image: Image.Image, content_type: str) -> bytes:
    """Re-encode as ``content_type`` without metadata; the EXIF orientation is applied to the
    pixels first (pillow-heif applies a HEIC's itself), so the photo still stands the right way
    up. The colour profile is kept (it carries no secrets)."""
    icc = image.info.get("icc_profile")
    upright = ImageOps.exif_transpose(image)
    upright.info = {}  # Pillow would otherwise carry comments and the like into the copy
    extra = {"icc_profile": icc} if icc else {}
    out = io.BytesIO()
    if content_type == JPEG:
        if upright.mode not in ("RGB", "L", "CMYK"):
            upright = upright.convert("RGB")
        upright.save(out, "JPEG", quality=90, **extra)
    else:
        upright.save(out, "PNG", **extra)
    return out.getvalue()


def _taken_at(exif: Image.Exif) -> datetime | None:
    details = exif.get_ifd(_EXIF_IFD)
    raw = details.get(_DATETIME_ORIGINAL) or exif.get(_DATETIME)
    if not isinstance(raw, str):
        return None
    try:
        moment = datetime.strptime(raw.strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None  # cameras write blanks or zeros when their clock was never set
    offset = details.get(_OFFSET_ORIGINAL)
    zone = BEIJING
    if isinstance(offset, str) and re.fullmatch(r"[+-]\d\d:\d\d", offset.strip("\x00 ")):
        sign = -1 if offset[0] == "-" else 1
        zone = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])))
    return moment.replace(tzinfo=zone)


def _location(exif: Image.Exif) -> dict | None:
    gps = exif.get_ifd(_GPS_IFD)
    try:
        lat = _degrees(gps[_LAT], gps.get(_LAT_REF), "S")
        lon = _degrees(gps[_LON], gps.get(_LON_REF), "W")
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return {"lat": round(lat, 7), "lon": round(lon, 7)}


def _degrees(value, ref, negative: str) -> float:
    d, m, s = (float(part) for part in value)
    sign = -1 if isinstance(ref, str) and ref.strip("\x00 ").upper() == negative else 1
    return sign * (d + m / 60 + s / 3600)


# --- the store ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Evidence:
    """A stored photo's record (the GridFS file's metadata)."""

    id: str
    owner: str
    content_type: str
    size: int
    sha256: str
    taken_at: datetime | None
    location: dict | None
    original_sha256: str
    uploaded_by: str
    uploaded_at: datetime

    @property
    def has_location(self) -> bool:
        return self.location is not None

    def shown_to(self, *, city: bool) -> dict:
        """The record as answered: the position only to the city (docs/evidence.md)."""
        shown = {"id": self.id, "content_type": self.content_type, "size": self.size,
                 "sha256": self.sha256, "taken_at": self.taken_at,
                 "has_location": self.has_location, "uploaded_by": self.uploaded_by,
                 "uploaded_at": self.uploaded_at}
        if city:
            shown["location"] = self.location
            shown["original_sha256"] = self.original_sha256
        return shown


class EvidenceStore:
    """Photos in GridFS (bucket ``evidence``). Only equalities on ``_id`` and ``files_id`` are
    asked of the database, which FerretDB hands to PostgreSQL as they are."""

    def __init__(self, db: Database):
        self.bucket = gridfs.GridFSBucket(db, bucket_name=BUCKET)
        self.files = db[f"{BUCKET}.files"]
        self.chunks = db[f"{BUCKET}.chunks"]

    def add(self, evidence_id: str, owner: str, photo: Photo, *, uploaded_by: str,
            now: datetime) -> Evidence:
        """Keep ``photo`` as ``evidence_id``. The same photo sent again under the same id (an
        Idempotency-Key retry) answers the first record; another photo under it is 409."""
        existing = self.get(evidence_id)
        if existing is None:
            self._drop_abandoned(evidence_id, now)
            metadata = {"owner": owner, "content_type": photo.content_type,
                        "sha256": photo.sha256, "taken_at": photo.taken_at,
                        "location": photo.location, "original_size": photo.original_size,
                        "original_sha256": photo.original_sha256,
                        "original_content_type": photo.original_content_type,
                        "uploaded_by": uploaded_by,
                        "uploaded_at": now}
            with contextlib.suppress(gridfs.errors.FileExists):  # the same retry just before
                self.bucket.upload_from_stream_with_id(
                    evidence_id, f"{evidence_id}.{_EXTENSIONS[photo.content_type]}",
                    io.BytesIO(photo.content), metadata=metadata)
            existing = self.get(evidence_id)
            if existing is None:
                raise Conflict("A photo under this Idempotency-Key is being uploaded right now; "
                               "try again shortly.", headers={"Retry-After": "5"})
        if existing.owner != owner or existing.original_sha256 != photo.original_sha256:
            raise Conflict("This Idempotency-Key was used with another photo.")
        return existing

    def _drop_abandoned(self, evidence_id: str, now: datetime) -> None:
        """GridFS writes the chunks first and the file record last: chunks without a record are
        an upload cut short, and would refuse its retry. Drop them once they are old enough not
        to be an upload still under way (chunk ids are ObjectIds, stamped when written)."""
        chunks = list(self.chunks.find({"files_id": evidence_id}, {"_id": 1}))
        if chunks and all(c["_id"].generation_time < now - ABANDONED_AFTER for c in chunks):
            self.chunks.delete_many({"files_id": evidence_id})

    def get(self, evidence_id: str) -> Evidence | None:
        doc = self.files.find_one({"_id": evidence_id})
        if doc is None:
            return None
        meta = doc["metadata"]
        return Evidence(id=doc["_id"], owner=meta["owner"], content_type=meta["content_type"],
                        size=doc["length"], sha256=meta["sha256"], taken_at=meta.get("taken_at"),
                        location=meta.get("location"), original_sha256=meta["original_sha256"],
                        uploaded_by=meta["uploaded_by"], uploaded_at=meta["uploaded_at"])

    def of(self, owner: str, evidence_id: str) -> Evidence | None:
        """The photo ``evidence_id`` if it belongs to ``owner``."""
        found = self.get(evidence_id) if is_reference(evidence_id) else None
        return found if found is not None and found.owner == owner else None

    def content(self, evidence: Evidence) -> bytes:
        return self.bucket.open_download_stream(evidence.id).read()

    def check_references(self, owner: str, entries: list[str]) -> dict[str, list[str]]:
        """Messages by position for the entries that name a photo not of ``owner``."""
        return {str(i): [f"{entry} is not a photo uploaded to this {owner.split(':')[0]}."]
                for i, entry in enumerate(entries)
                if is_reference(entry) and self.of(owner, entry) is None}


def item_owner(item_id: str) -> str:
    return f"item:{item_id}"


def inspection_owner(inspection_id: str) -> str:
    return f"inspection:{inspection_id}"


# --- HTTP ---------------------------------------------------------------------------------

class UploadSchema(Schema):
    file = Upload(required=True, metadata={
        "description": "a JPEG, PNG or HEIC photo, at most 10 MB"})


class EvidenceSchema(Schema):
    id = fields.String(metadata={"description": "the reference to put in `evidence` lists"})
    content_type = fields.String(metadata={"enum": [JPEG, PNG], "description":
                                           "of the served photo (a HEIC is served as JPEG)"})
    size = fields.Integer(metadata={"description": "bytes of the served (stripped) photo"})
    sha256 = fields.String(metadata={"description": "of the served (stripped) photo"})
    taken_at = fields.AwareDateTime(allow_none=True,
                                    metadata={"description": "the original's EXIF time"})
    has_location = fields.Boolean(metadata={"description": "whether the original had GPS"})
    uploaded_by = fields.String()
    uploaded_at = fields.AwareDateTime()
    location = fields.Dict(allow_none=True, metadata={
        "description": "the original's GPS position {lat, lon}; city admins only"})
    original_sha256 = fields.String(metadata={
        "description": "of the bytes uploaded; city admins only"})


def upload_endpoint(blp, idempotency_parameter: dict):
    """The documented shape of a photo upload view on ``blp``: the multipart field, the 201
    answer and the refusals (one place for both services' upload endpoints)."""
    decorators = (
        blp.arguments(UploadSchema, location="files"),
        blp.response(201, EvidenceSchema),
        blp.alt_response(413, description="larger than 10 MB"),
        blp.alt_response(415, description="neither JPEG, PNG nor HEIC by its bytes"),
        blp.alt_response(422, description="damaged, truncated or too many pixels"),
        blp.doc(parameters=[idempotency_parameter]),
    )

    def decorate(view):
        for decorator in reversed(decorators):
            view = decorator(view)
        return view
    return decorate


IMAGE_RESPONSE = {"description": "the photo without its metadata", "content": {
    JPEG: {"schema": {"type": "string", "format": "binary"}},
    PNG: {"schema": {"type": "string", "format": "binary"}}},
    "headers": {"ETag": {"schema": {"type": "string"}},
                "Cache-Control": {"schema": {"type": "string"}}}}


def uploaded(files: dict) -> Photo:
    """The photo of the multipart field ``file``, read at most one byte past the limit; any
    other field is refused, as unknown fields of a JSON body are."""
    others = sorted(set(request.form) | (set(request.files) - {"file"}))
    if others:
        raise Unprocessable("Send the photo as the only multipart field, file.",
                            errors=dict.fromkeys(others, ["Unknown field."]))
    return read_photo(files["file"].read(MAX_BYTES + 1))


def serve(store: EvidenceStore, evidence: Evidence) -> Response:
    """The stripped bytes, cacheable by the caller only; 304 for an unchanged If-None-Match."""
    response = Response(store.content(evidence), mimetype=evidence.content_type)
    response.set_etag(evidence.sha256)
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.headers["Vary"] = "Authorization"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = (
        f'inline; filename="{evidence.id}.{_EXTENSIONS[evidence.content_type]}"')
    return response.make_conditional(request)
