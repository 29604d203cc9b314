"""Request and response shapes: the single truth for validation and the OpenAPI document."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from services.notifications.domain.subscriptions import ALL
from shared.pagination import page_schema


class SubscriptionIn(Schema):
    url = fields.String(required=True, validate=validate.Length(max=2048),
                        metadata={"description": "https (or http) URL the webhooks are POSTed to",
                                  "example": "https://xt.yuecheng.example.cn/hooks/supervision"})
    event_types = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)), required=True,
        validate=validate.Length(min=1, max=32),
        metadata={"description": f"event types from the catalog, or {ALL!r} for all",
                  "example": ["issue.created", "issue.reopened"]})
    counties = fields.List(
        fields.String(validate=validate.Length(min=1, max=16)), required=True,
        validate=validate.Length(min=1, max=32),
        metadata={"description": "county codes: a county role its own only; the city any, "
                                 f"or {ALL!r} for all", "example": ["330602"]})


class SubscriptionOut(Schema):
    id = fields.String()
    owner = fields.String()
    url = fields.String()
    event_types = fields.List(fields.String())
    counties = fields.List(fields.String())
    status = fields.String(metadata={"description": "active, or disabled (after a 410 Gone)"})
    created_at = fields.AwareDateTime()
    disabled_at = fields.AwareDateTime(allow_none=True)
    disabled_reason = fields.String(allow_none=True)


class SubscriptionCreated(SubscriptionOut):
    secret = fields.String(metadata={
        "description": "the signing secret (whsec_…); shown in this answer only"})


class SecretRotated(Schema):
    id = fields.String()
    secret = fields.String(metadata={"description": "the new signing secret, shown once"})
    previous_secret_expires_at = fields.AwareDateTime(
        allow_none=True, metadata={"description": "until when the previous secret also signs"})


class ReplayIn(Schema):
    since = fields.AwareDateTime(required=True, metadata={
        "description": "re-deliver the matching events whose time is at or after this"})


class ReplayOut(Schema):
    replayed = fields.Integer(metadata={"description": "deliveries started again"})
    continue_since = fields.AwareDateTime(allow_none=True, metadata={
        "description": "set when the limit of one call was reached: replay again from here"})


class AttemptOut(Schema):
    event_id = fields.String()
    event_type = fields.String()
    attempt = fields.Integer(attribute="number")
    at = fields.AwareDateTime()
    outcome = fields.String(metadata={
        "description": "success, http_error, no_answer, refused (address rule) or gone (410)"})
    status = fields.Integer(allow_none=True, metadata={"description": "HTTP status, if any"})
    latency_ms = fields.Float()
    error = fields.String(allow_none=True)
    next_attempt_at = fields.AwareDateTime(allow_none=True, metadata={
        "description": "when the delivery will be tried again; null when it will not"})


class FeedArgs(Schema):
    after = fields.String(load_default=None, validate=validate.Length(max=4096), metadata={
        "description": "the next_cursor of the previous page; omit to start from the beginning"})
    types = fields.String(load_default=None, validate=validate.Length(max=1024), metadata={
        "description": "comma-separated event types to keep"})
    wait = fields.Float(load_default=0, validate=validate.Range(0, 30), metadata={
        "description": "seconds to wait for an event when there is none yet (long poll)"})
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 500))


class CloudEvent(Schema):
    specversion = fields.String()
    id = fields.String()
    source = fields.String()
    type = fields.String()
    subject = fields.String()
    time = fields.String()
    datacontenttype = fields.String()
    county = fields.String()
    itemversion = fields.Integer(allow_none=True)
    data = fields.Dict()


class FeedPage(Schema):
    items = fields.List(fields.Nested(CloudEvent), required=True)
    next_cursor = fields.String(required=True, metadata={
        "description": "always set: pass it as after= to continue, even from an empty page"})


SubscriptionPage = page_schema(SubscriptionOut, "SubscriptionPage")
AttemptPage = page_schema(AttemptOut, "AttemptPage")
