"""Library errors as HTTP answers: a status and one message naming the field and the fix.

A bad request never shows a traceback and, since the library checks before it writes,
changes nothing. Anything that is not a user error stays a 500 (a bug).
"""

from __future__ import annotations

from typing import Optional

from ..errors import (
    DatabaseBusyError, NotFoundError, SkillPermissionError, SkillVaultError, StorageFullError, ValidationError,
)

#: Most specific first.
STATUS_BY_ERROR: list[tuple[type, int]] = [
    (NotFoundError, 404),
    (SkillPermissionError, 403),
    (ValidationError, 422),
    (DatabaseBusyError, 503),
    (StorageFullError, 507),
    (SkillVaultError, 400),
]


def status_for(exc: SkillVaultError) -> int:
    """Return the HTTP status of a library error."""
    return next(status for kind, status in STATUS_BY_ERROR if isinstance(exc, kind))


def message_for(exc: SkillVaultError) -> str:
    """Return the message shown for a library error, in the web's terms for agent-mode refusals."""
    if isinstance(exc, SkillPermissionError) and exc.action is not None:
        return (f"{exc.action} needs a reviewer: agent tokens may only read reviewed skills, propose drafts "
                "and report usage. Use a reviewer's login or token")
    return " ".join(str(exc).split())


def error_body(exc: SkillVaultError) -> dict:
    """The JSON body of an error answer: ``{"error", "message", "field"}``."""
    field: Optional[str] = exc.field if isinstance(exc, ValidationError) else None
    return {"error": type(exc).__name__, "message": message_for(exc), "field": field}


def request_error_body(errors: list[dict]) -> dict:
    """The JSON body for a request FastAPI could not parse: the first bad field and the fix."""
    first = errors[0] if errors else {"loc": (), "msg": "malformed request"}
    location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
    field = ".".join(location) or "body"
    return {"error": "ValidationError", "message": f"{field}: {first.get('msg', 'invalid')}", "field": field,
            "errors": [{"field": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg")} for e in errors]}
