"""Cursor pagination for every API list: `{"count", "items", "next_cursor"}`.

`count` is the total matching the filters; `next_cursor` is opaque (pass it back as `?cursor=`) and
null on the last page. Pages are keyset-based on one ordering field plus the primary key, so rows
added or removed meanwhile never shift a page nor repeat a row.
"""

import base64
import json

from django.db.models import Q
from ninja import Field, Schema
from pydantic import create_model

from mailherd.core.errors import ValidationFailed

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000

CURSOR_DESCRIPTION = "The `next_cursor` of the previous page; omit it for the first page."
LIMIT_DESCRIPTION = f"Items per page, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT})."


def page_schema(item: type[Schema], name: str) -> type[Schema]:
    """A `<name>` schema with count, items (of `item`) and next_cursor."""
    return create_model(
        name,
        __base__=Schema,
        count=(int, Field(..., description="How many items match, over all pages.")),
        items=(list[item], Field(...)),
        next_cursor=(
            str | None,
            Field(None, description="Pass as `cursor` for the next page; null on the last one."),
        ),
    )


def _encode(values: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, default=str).encode()).decode().rstrip("=")


def _decode(cursor: str) -> list:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
    except (ValueError, UnicodeDecodeError):
        values = None
    if not isinstance(values, list) or len(values) != 2:
        raise ValidationFailed(
            "This cursor is not one this API gave out; start again without it.", field="cursor"
        )
    return values


def cursor_page(queryset, *, cursor: str | None, limit: int | None, order: str, serialize) -> dict:
    """One page of `queryset` ordered by `order` ("name", or "-id" for newest first), then pk."""
    if limit is None:
        limit = DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(f"limit must be between 1 and {MAX_LIMIT}.", field="limit")
    descending = order.startswith("-")
    field = order.lstrip("-")
    count = queryset.count()
    rows = queryset.order_by(order, "-pk" if descending else "pk")
    if cursor:
        value, pk = _decode(cursor)
        op = "lt" if descending else "gt"
        if field in ("pk", "id"):
            rows = rows.filter(**{f"pk__{op}": pk})
        else:
            rows = rows.filter(
                Q(**{f"{field}__{op}": value}) | Q(**{field: value, f"pk__{op}": pk})
            )
    page = list(rows[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    next_cursor = None
    if more and page:
        last = page[-1]
        next_cursor = _encode([getattr(last, field if field != "pk" else "pk"), last.pk])
    return {"count": count, "items": [serialize(row) for row in page], "next_cursor": next_cursor}
