"""The API's plumbing, one module for the whole project: authentication, permissions,
throttles, the one error shape, pagination. Apps' api.py modules hold views only.

Who may call what is decided the same way as in the browser (patients.selectors):
a study the caller has no role in does not exist for them (404), an action their role
does not allow is refused (403). A token is issued for one study, only to an account whose one
role there is API client, and carries only that role; it reaches only views that declare
`api_client_allowed = True` (the anonymized dataset and the summary). Staff use the API with
their browser session.

In patients, the lowest app, because it decides access through patients.selectors: trialsite,
underneath every app, may not import them (tests/test_layers.py).
"""

import base64
import binascii
import hashlib
from collections.abc import Callable, Iterable
from datetime import timedelta
from urllib import parse

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.utils import timezone
from django.utils.cache import get_conditional_response
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from knox.auth import TokenAuthentication
from rest_framework import exceptions, pagination, parsers, permissions, status, throttling
from rest_framework.serializers import as_serializer_error
from rest_framework.utils import json

from patients.models import ApiToken, Study, StudyRole
from patients.selectors import Access, access_for, access_for_token

# Writing last_used_at on every request would turn every read into a write; a minute's
# resolution is what an auditor needs ("was this token used after it leaked?").
LAST_USED_RESOLUTION = timedelta(minutes=1)

Role = StudyRole.Role
# Roles that read the whole study without identifiers, and so may read its anonymized dataset.
DATASET_ROLES = frozenset({Role.INVESTIGATOR, Role.DATA_MANAGER, Role.API_CLIENT})


def inactive_token_message(token: str) -> str | None:
    """Why a token we issued no longer works, told only to whoever holds the token itself."""
    from knox.crypto import hash_token
    from knox.settings import CONSTANTS

    try:
        digest = hash_token(token)
    except (TypeError, ValueError):
        return None
    issued = ApiToken.objects.filter(token_key=token[: CONSTANTS.TOKEN_KEY_LENGTH], digest=digest).first()
    if issued is None or issued.is_active:
        return None
    ask = "Ask the study's data manager for a new token."
    if issued.revoked_at is not None:
        return f"This token was revoked on {issued.revoked_at:%Y-%m-%d}. {ask}"
    return f"This token expired on {issued.expiry:%Y-%m-%d}. {ask}"


class TokenErrorMessages:
    """Authentication failures that say what to do: the expected scheme, a revoked or expired token.

    knox answers a Bearer token with "credentials were not provided" (it ignores other
    schemes) and a revoked or expired one with "Invalid token".
    """

    def authenticate(self, request):
        from rest_framework.authentication import get_authorization_header

        header = get_authorization_header(request).split()
        prefix = self.authenticate_header(request)  # type: ignore[attr-defined]
        if header and header[0].decode(errors="replace").lower() != prefix.lower():
            scheme = header[0].decode(errors="replace")[:20]
            raise exceptions.AuthenticationFailed(
                f"Send the token as `Authorization: {prefix} <token>`; the {scheme} scheme is not used here."
            )
        return super().authenticate(request)  # type: ignore[misc]

    def authenticate_credentials(self, token: bytes):
        try:
            return super().authenticate_credentials(token)  # type: ignore[misc]
        except exceptions.AuthenticationFailed:
            message = inactive_token_message(token.decode(errors="replace"))
            if message is None:
                raise
            raise exceptions.AuthenticationFailed(message) from None


class StudyTokenAuthentication(TokenErrorMessages, TokenAuthentication):
    """knox's hashed tokens, plus revocation and last-used time; expired tokens are refused, not deleted."""

    def _cleanup_token(self, auth_token) -> bool:
        # True means "skip this token": knox would delete expired rows, but the audit
        # trail needs them (which client held which token, and until when).
        return not auth_token.is_active

    def validate_user(self, auth_token):
        user, token = super().validate_user(auth_token)
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
        return user, token


class StudyTokenScheme(OpenApiAuthenticationExtension):
    """Documents the token in the schema: `Authorization: Token <token>`."""

    target_class = "patients.api_plumbing.StudyTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <token>`, as issued by a data manager in the admin (one study, shown once).",
        }


def request_access(request) -> Access:
    """The caller's access: all their roles in a browser session; with a token, its study's API-client
    role only (`access_for_token`)."""
    cached = getattr(request, "_trial_api_access", None)
    if cached is not None:
        return cached
    if isinstance(request.auth, ApiToken):
        access = access_for_token(request.auth)
    else:
        access = access_for(request.user)
    request._trial_api_access = access
    return access


def roles_in_study(access: Access, study_id: int) -> set[str]:
    roles = set()
    if study_id in access.coordinator_study_ids:
        roles.add(Role.COORDINATOR)
    if study_id in access.investigator_study_ids:
        roles.add(Role.INVESTIGATOR)
    if study_id in access.data_manager_study_ids:
        roles.add(Role.DATA_MANAGER)
    if study_id in access.api_study_ids:
        roles.add(Role.API_CLIENT)
    return roles


def all_study_ids(access: Access) -> frozenset[int]:
    return access.study_ids | access.api_study_ids


def study_for_request(request, study_code: str) -> Study:
    """The study named in the URL, if the caller has any role in it; otherwise it does not exist."""
    study = Study.objects.filter(code=study_code, pk__in=all_study_ids(request_access(request))).first()
    if study is None:
        raise Http404("No such study.")
    return study


class StudyRolePermission(permissions.BasePermission):
    """The default: the caller holds one of the view's `study_roles` in the study of the URL.

    A view that names no roles is closed to everyone (fail closed). Views under
    /studies/{study_code}/ find the study on `request.study` after this check.
    """

    message = "Your role in this study does not allow this."

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        allowed = set(getattr(view, "study_roles", ()))
        if not getattr(view, "api_client_allowed", False):
            allowed.discard(Role.API_CLIENT)
        study_code = view.kwargs.get("study_code")
        access = request_access(request)
        if study_code is None:
            return any(roles_in_study(access, sid) & allowed for sid in all_study_ids(access))
        study = study_for_request(request, study_code)
        request.study = study
        return bool(roles_in_study(access, study.pk) & allowed)


class HasAnyStudyRole(permissions.BasePermission):
    """For the schema and its docs: any role (an API client's token included), never just a login."""

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and all_study_ids(request_access(request)))


class _CallerThrottle(throttling.SimpleRateThrottle):
    """Counted per token (each client's script has its own budget), else per user, else per address."""

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiToken):
            ident = f"token-{request.auth.token_key}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = f"addr-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


def is_page_continuation(request) -> bool:
    """A read that follows a `next` link: a later page of a pull whose first page was counted."""
    return request.method in ("GET", "HEAD") and bool(request.query_params.get("cursor"))


class BurstThrottle(_CallerThrottle):
    """The per-minute rate, counted per pull: the pages after the first are not counted.

    A client following `next` through a large table at the largest page size (the demo's
    outcomes take more than 40 pages) must not meet 429 halfway; it is bounded by the daily
    sustained rate instead. A made-up cursor costs a 400, not a page.
    """

    scope = "burst"

    def allow_request(self, request, view):
        if is_page_continuation(request):
            return True
        return super().allow_request(request, view)


class SustainedThrottle(_CallerThrottle):
    scope = "sustained"


INVALID_CURSOR = "Invalid cursor: use the `next` link of the previous page."
MAX_PAGE_SIZE = 1000


def page_size_from(request, default: int) -> int:
    """`?page_size=` as documented (1 to MAX_PAGE_SIZE), or a 400 naming it; absent: the default.

    Strict on purpose: DRF's own reading turns 0, -1, "abc" or "null" silently into the
    default, and a script that asked for 0 rows deserves to hear that it did.
    """
    raw = request.query_params.get("page_size")
    if raw is None:
        return default
    try:
        size = int(raw)
    except ValueError:
        size = 0
    if not 1 <= size <= MAX_PAGE_SIZE or str(size) != raw:
        raise exceptions.ValidationError(
            {"page_size": [f"A whole number of rows from 1 to {MAX_PAGE_SIZE}; got {raw!r}."]}
        )
    return size


def invalid_cursor() -> exceptions.ValidationError:
    """One answer for a cursor we did not write, on every paginated endpoint: a 400 naming it."""
    return exceptions.ValidationError({"cursor": [INVALID_CURSOR]})


class CursorPagination(pagination.CursorPagination):
    """Cursor pages (stable while rows are added); views set `ordering` to a non-identifying key."""

    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    ordering = "pk"

    def get_ordering(self, request, queryset, view):
        return tuple(getattr(view, "cursor_ordering", None) or (self.ordering,))

    def get_page_size(self, request):
        return page_size_from(request, self.page_size)

    def decode_cursor(self, request):
        # DRF reads leniently (it drops what is not base64, ignores unknown keys: "garbage" is
        # the first page) and answers what it cannot read with a 404; a bad parameter is a 400.
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return None
        try:
            text = base64.b64decode(encoded.encode("ascii"), validate=True).decode("ascii")
            keys = set(parse.parse_qs(text, keep_blank_values=True, strict_parsing=True))
        except (ValueError, binascii.Error):  # UnicodeError is a ValueError
            raise invalid_cursor() from None
        if not keys or not keys <= {"o", "r", "p"}:
            raise invalid_cursor()
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound:
            raise invalid_cursor() from None

    def paginate_queryset(self, queryset, request, view=None):
        try:
            return super().paginate_queryset(queryset, request, view)
        except (ValueError, DjangoValidationError):
            # A cursor that decodes but whose position is not a value of the ordering field
            # (a hand-made one): the database lookup refuses it.
            raise invalid_cursor() from None

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = page_size_schema()
        return parameters


def page_size_schema() -> dict:
    return {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": 100}


class ETagMixin:
    """`ETag` on successful reads, and `304 Not Modified` when the client already has this version."""

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if request.method not in ("GET", "HEAD") or response.status_code != 200 or response.streaming:
            return response
        response.render()
        etag = f'"{hashlib.sha256(response.content).hexdigest()[:32]}"'
        response["ETag"] = etag
        return get_conditional_response(request._request, etag=etag, response=response)


NOT_AN_OBJECT = "The body must be a JSON object: named fields, as the schema documents for this endpoint."


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"


def json_body_limit_bytes() -> int:
    """The largest JSON body accepted: Django's own limit for a request body held in memory."""
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def too_large_message(size: int | None = None) -> str:
    limit_mb = json_body_limit_bytes() / 1024 / 1024
    said = f"The body is {size / 1024 / 1024:.1f} MB; " if size is not None else "The body is too large; "
    return (
        f"{said}the API accepts at most {limit_mb:.1f} MB of JSON. Nothing was read or saved. "
        f"Photos go as multipart/form-data to the visit's photos endpoint, "
        f"up to {settings.PHOTO_MAX_UPLOAD_MB} MB each."
    )


class JSONObjectParser(parsers.JSONParser):
    """JSON whose top level is an object, read up to the size limit, every failure a 400 (never a 500).

    DRF reads the body stream itself, so Django's DATA_UPLOAD_MAX_MEMORY_SIZE would never
    apply: the limit is applied here (and, from Content-Length, already by
    trialsite.middleware before any view). Deep nesting makes the JSON decoder recurse
    until RecursionError, which DRF's parser lets through as a 500.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        limit = json_body_limit_bytes()
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise RequestTooLarge(too_large_message())
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            data = json.loads(raw.decode(encoding))
        except RecursionError:
            raise exceptions.ParseError("The JSON body is nested too deeply.") from None
        except ValueError as error:  # UnicodeDecodeError and json's errors both
            raise exceptions.ParseError(f"The body is not valid JSON: {error}") from None
        if not isinstance(data, dict):
            raise exceptions.ParseError(NOT_AN_OBJECT)
        return data


def exception_handler(exc, context):
    """Every 4xx as {"error": {"code", "message", "fields"}}; fields carry the forms' own messages."""
    # Imported here: rest_framework.views imports this module through the settings.
    from rest_framework.views import exception_handler as drf_exception_handler

    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or None)
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, RequestDataTooBig):  # a form body over Django's own limit
        exc = RequestTooLarge(too_large_message())
    elif isinstance(exc, RecursionError):
        # Only input nested without bound recurses this deep here (the parsers turn their own
        # into a ParseError; this is the net for any other parser): a bad request, not a crash.
        exc = exceptions.ParseError("The body is nested too deeply.")
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    response.data = error_body(exc, response.data)
    return response


def error_body(exc, data) -> dict:
    if isinstance(exc, exceptions.ValidationError):
        fields = data if isinstance(data, dict) else {"non_field_errors": data}
        general = fields.pop("non_field_errors", None) or fields.pop("__all__", None)
        message = " ".join(str(m) for m in general) if general else "Some fields need correcting."
        return {"error": {"code": "invalid", "message": message, "fields": fields}}
    if isinstance(exc, exceptions.APIException):
        code = exc.get_codes()
        code = code if isinstance(code, str) else getattr(exc, "default_code", "error")
        return {"error": {"code": code, "message": str(exc.detail), "fields": {}}}
    message = data.get("detail", "Error") if isinstance(data, dict) else str(data)
    return {"error": {"code": "error", "message": str(message), "fields": {}}}


ERROR_STATUSES = ("400", "401", "403", "404", "429")
# Only operations that take a body: too large, or not JSON (an upload: not multipart).
BODY_ERROR_STATUSES = ("413", "415")
BODY_ERROR_DESCRIPTIONS = {
    "400": "Fields that need correcting, or (not for photos) a body that is not valid JSON or not a JSON object.",
    "413": "The body is over the size limit (docs/api.md); nothing was read.",
    "415": "The body is not of the documented content type.",
}
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
            },
        }
    },
}


def document_errors(result, generator, request, public):
    """drf-spectacular hook: every operation documents its 4xx answers in the one error shape."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    reference = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            # A write that documents no body (randomize) still parses one if sent, and may refuse it.
            takes_body = "requestBody" in operation or method in ("post", "put", "patch")
            statuses = ERROR_STATUSES + (BODY_ERROR_STATUSES if takes_body else ())
            for code in statuses:
                description = BODY_ERROR_DESCRIPTIONS.get(code, "Error") if takes_body else "Error"
                operation.setdefault("responses", {}).setdefault(code, {"description": description, **reference})
    return result


# A query parameter whose allowed values are a study's own codes (arms, visits, metrics): the view
# marks it with this extension and document_parameters lists the codes of the caller's studies.
STUDY_ENUM = "x-study-codes"


# Codes this layer cannot list itself, by kind: the metrics are analysis's, which registers them
# (analysis/apps.py), since patients may not import analysis (tests/test_layers.py).
STUDY_CODE_SOURCES: dict[str, Callable[[Iterable[Study]], Iterable[str]]] = {}


def study_codes(kind: str, study_ids) -> list[str]:
    if kind in STUDY_CODE_SOURCES:
        return sorted(set(STUDY_CODE_SOURCES[kind](Study.objects.filter(pk__in=study_ids))))
    related = {"arm": "arms__code", "visit": "schedule__code"}[kind]
    return sorted(set(Study.objects.filter(pk__in=study_ids).values_list(related, flat=True)) - {None})


def document_parameters(result, generator, request, public):
    """drf-spectacular hook: query parameters as strict as the views that read them.

    A required string may not be empty (the view refuses ""); a parameter marked STUDY_ENUM
    gets the codes of the studies the caller may read as its enum (an unknown code is a 400),
    so a client and a schema-driven test both see what is accepted.
    """
    study_ids = all_study_ids(request_access(request)) if request is not None and request.user.is_authenticated else ()
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", ()):
                schema = parameter.setdefault("schema", {})
                kind = parameter.pop(STUDY_ENUM, None)
                codes = study_codes(kind, study_ids) if kind and study_ids else []
                if codes:
                    schema["enum"] = codes
                if parameter.get("required") and schema.get("type") == "string" and "enum" not in schema:
                    schema["minLength"] = 1
    return result


@csrf_exempt  # it changes nothing; a POST to a wrong path must get this 404, not the CSRF page
def api_not_found(request, *args, **kwargs):
    """Unknown paths under /api/ answer in the API's error shape, not with an HTML page."""
    return JsonResponse({"error": {"code": "not_found", "message": "No such endpoint.", "fields": {}}}, status=404)
