"""API error helpers: one wording for every 404, ninja's validation errors in plain words."""

from mailherd.core.errors import NotFound


def not_found_message(noun: str, key) -> str:
    """The one 404 text: "No mailbox ann@example.com in this organization." """
    return f"No {noun} {key} in this organization."


def not_found(noun: str, key) -> NotFound:
    return NotFound(not_found_message(noun, key))


_NOUNS = {
    "domains": "domain",
    "mailboxes": "mailbox",
    "aliases": "alias",
    "webhooks": "webhook endpoint",
    "deliveries": "delivery",
    "members": "member",
    "invitations": "invitation",
    "tokens": "API token",
    "invoices": "invoice",
    "rules": "rule",
    "tasks": "task",
    "notes": "note",
}


def not_found_for_path(path: str) -> str:
    """A 404 text for a bare Http404, from the URL: its deepest `<collection>/<key>` pair."""
    parts = [p for p in path.split("/api/v1/", 1)[-1].split("/") if p]
    for index in range(len(parts) - 2, -1, -1):
        noun = _NOUNS.get(parts[index])
        if noun and index + 1 < len(parts):
            return not_found_message(noun, parts[index + 1])
    return "Nothing here in this organization."


def clean_loc(loc) -> list:
    """["body", "body", "name"] (ninja names the body parameter) becomes ["body", "name"]."""
    loc = list(loc or [])
    if len(loc) >= 2 and loc[0] == "body" and loc[1] == "body":
        loc = ["body", *loc[2:]]
    return loc


def plain_validation(errors: list[dict]) -> tuple[str, list[dict]]:
    """One message listing each problem once, and the errors with clean `loc`s (no input echoed)."""
    cleaned, parts = [], []
    for error in errors:
        loc = clean_loc(error.get("loc"))
        field = ".".join(str(p) for p in loc[1:]) or str(loc[0] if loc else "body")
        message = str(error.get("msg", "is not valid"))
        message = message.removeprefix("Value error, ")
        item = {"loc": loc, "field": field, "msg": message, "type": error.get("type", "")}
        if "ctx" in error:
            item["ctx"] = {
                k: v for k, v in error["ctx"].items() if isinstance(v, str | int | float)
            }
        cleaned.append(item)
        parts.append(f"{field}: {message}")
    return "; ".join(dict.fromkeys(parts)) or "The request is not valid.", cleaned
