"""Safe retries: a POST sent with an `Idempotency-Key` runs at most once per client and key.

The middleware applies to POSTs under /api/v1/ from an authenticated caller (a person's
token or a partner's API key; anyone else passes through and the view answers 401).
A key belongs to its client: a person's to the user, whatever token they send (a person
who signs in again still gets the replay of an earlier request); a partner's to the API
key it came with, since a partner's keys carry different scopes and a replay runs no
authorisation. For each (client, key) it keeps one `IdempotencyRecord`:

1. Reserve: an in-progress row is inserted and committed on its own, so a concurrent
   retry sees it. If the row exists: in progress and younger than IDEMPOTENCY_LOCK_SECONDS,
   409 `idempotency_key_in_use`; in progress and older, its request died: taken over;
   completed, the request's fingerprint is compared with the first one's: another body
   (or path) is 422 `idempotency_key_reused`, the same one gets the first response again
   (status, body, Content-Type, Location, ETag, Content-Language, Cache-Control, Vary) with
   `Idempotent-Replayed: true`, and the view is not called. A row past its expiry
   (IDEMPOTENCY_KEY_TTL_HOURS after its response) counts as absent.
2. The view runs inside a transaction, and the row is completed with the response in
   that same transaction: the action and its stored response commit together, or neither.
3. A response that changed nothing, or should be retried, is not kept and the key is
   freed: 409, 412, 413, 429 (the view's own work is committed; there is none), any other
   response of status 300 or more for which the view did not read the body to its end
   (a refusal before the body: the same refusal comes again, harmlessly), and any 5xx or
   exception (the view's work is rolled back).

The whole body is read, and fingerprinted, before the key is reserved and before the
transaction opens, and the view reads it from that copy (in memory, or a temporary file
past FILE_UPLOAD_MAX_MEMORY_SIZE): a slow client holds no database lock while the server
waits for its bytes (on SQLite a transaction takes the one write lock when it opens). The
body's size was judged from its headers before (api/bodies.py), so what is read is
bounded; a body of a type the operation does not parse is not read at all (the view
refuses it without reading it). A client that goes before its body ends gets a 400 and
nothing runs.
JSON is compared canonically (key order and spacing do not count), multipart without its
random boundary. The stored body is encrypted with a key derived from SECRET_KEY and
the client's raw Idempotency-Key, which the table does not hold; and a secret shown once
(a partner's API key, a webhook signing secret: `one_time_secrets`) is not kept at all:
the replay carries a note in its place.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.db import IntegrityError, OperationalError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request
from rest_framework.settings import api_settings

from api.bodies import takes_body
from api.exceptions import PROBLEM_CONTENT_TYPE, busy_response, is_lock_timeout, problem
from api.models import IdempotencyRecord, IdempotencyState
from partners.models import PartnerKey

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
PREFIX = "/api/v1/"
# What a replay repeats besides the status and body (Cache-Control and Vary come with an
# ETag: the answer is for its caller only).
STORED_HEADERS = ("Content-Type", "Location", "ETag", "Content-Language", "Cache-Control", "Vary")
# Answers that changed nothing and that a retry may well turn into something else: not
# kept, so the same key runs again. (Any other refusal is kept only if the view read the
# whole body: see `HashingStream.ended`.)
NOT_KEPT = frozenset({409, 412, 413, 429})
CHUNK = 64 * 1024
JSON_MEDIA_TYPES = ("application/json",)


def _ttl() -> timedelta:
    return timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)


def _lock() -> timedelta:
    return timedelta(seconds=settings.IDEMPOTENCY_LOCK_SECONDS)


def valid_key(key: str) -> bool:
    """1 to 255 printable ASCII characters."""
    return 0 < len(key) <= MAX_KEY_LENGTH and all(" " <= char <= "~" for char in key)


@dataclass(frozen=True)
class Caller:
    """Who a key belongs to. `client` names it in the digest and the cipher: a person's
    user id, whatever token they send; for a partner system, its user id and the API key's
    id, since each of a partner's keys has its own scopes."""

    user_id: Any
    client: str


def caller_for(*, user: Any, auth: Any) -> Caller:
    """The client of a request that authenticated as `user` with the credential `auth`."""
    if isinstance(auth, PartnerKey):
        return Caller(user.pk, f"{user.pk}\npartner-key:{auth.pk}")
    return Caller(user.pk, str(user.pk))


def key_digest(*, client: str, key: str) -> str:
    """What the table stores instead of the key: the key scoped to its client."""
    return hashlib.sha256(f"{client}\n{key}".encode()).hexdigest()


def _fernet(secret: str, client: str, key: str) -> Fernet:
    derived = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,
        info=f"ipsupport idempotent response v1\n{client}\n{key}".encode(),
    ).derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def response_cipher(*, client: str, key: str) -> MultiFernet:
    """Encrypts with SECRET_KEY; decrypts with it or any of SECRET_KEY_FALLBACKS, so a
    rotated secret still replays the responses kept before the rotation."""
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([_fernet(secret, client, key) for secret in secrets])


# --- The request's fingerprint ----------------------------------------------------------


class Fingerprint:
    """sha256 over the method, the path with its query string, the media type and the body,
    fed chunk by chunk as the body is read.

    JSON bodies count canonically (parsed and dumped with sorted keys and no spaces; one
    that does not parse, or is larger than DATA_UPLOAD_MAX_MEMORY_SIZE, counts byte for
    byte). Multipart bodies count without their boundary, which clients draw at random
    for each attempt.
    """

    def __init__(self, request: HttpRequest) -> None:
        self.head = "\n".join([request.method or "", request.get_full_path(), request.content_type or ""])
        self._raw = hashlib.sha256()
        params = request.content_params or {}
        boundary = params.get("boundary", "") if request.content_type == "multipart/form-data" else ""
        self._boundary = boundary.encode("latin-1")
        self._pending = b""
        self._limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 2_621_440
        self._json: bytearray | None = bytearray() if request.content_type in JSON_MEDIA_TYPES else None

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        if self._boundary:
            # Keep back a tail that may hold the start of a boundary split across chunks.
            data = (self._pending + chunk).replace(self._boundary, b"")
            cut = len(data) - (len(self._boundary) - 1)
            if cut <= 0:
                self._pending = data
                return
            self._pending, chunk = data[cut:], data[:cut]
        self._raw.update(chunk)
        if self._json is not None:
            self._json.extend(chunk)
            if len(self._json) > self._limit:
                self._json = None

    def hexdigest(self) -> str:
        body = f"raw:{self._raw.copy().hexdigest()}"
        if self._pending:
            tail = self._raw.copy()
            tail.update(self._pending)
            body = f"raw:{tail.hexdigest()}"
        if self._json is not None:
            try:
                canonical = json.dumps(
                    json.loads(bytes(self._json)), sort_keys=True, separators=(",", ":"), ensure_ascii=False
                )
            except (ValueError, RecursionError):
                pass
            else:
                # A lone surrogate (`"\\ud800"`) parses but has no UTF-8: hashed as its code
                # unit (valid text hashes as before), so the view can refuse it with a 400.
                body = f"json:{hashlib.sha256(canonical.encode('utf-8', 'surrogatepass')).hexdigest()}"
        return hashlib.sha256(f"{self.head}\n{body}".encode()).hexdigest()


def _left_to_read(stream: Any) -> int | None:
    """How many bytes the request's stream still holds, when it says: Django's LimitedStream
    (`limit` and `_pos`; `remaining` before Django 4.2)."""
    remaining = getattr(stream, "remaining", None)
    if isinstance(remaining, int):
        return remaining
    limit, position = getattr(stream, "limit", None), getattr(stream, "_pos", None)
    if isinstance(limit, int) and isinstance(position, int):
        return limit - position
    return None


class HashingStream:
    """Stands in for a stream, feeds the fingerprint (if any) what it reads, and tells
    whether the body has been read to its end."""

    def __init__(self, stream: Any, fingerprint: Fingerprint | None) -> None:
        self._stream = stream
        self._fingerprint = fingerprint
        self._short_read = False

    @property
    def ended(self) -> bool:
        """True once the whole body has been read (at once for an empty body)."""
        left = _left_to_read(self._stream)
        return left <= 0 if left is not None else self._short_read

    def _feed(self, data: bytes) -> None:
        if self._fingerprint is not None:
            self._fingerprint.feed(data)

    def _note(self, data: bytes, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self._feed(data)
        size = args[0] if args else kwargs.get("size", -1)
        if size is None or size < 0 or len(data) < size:  # all there was, or less than asked
            self._short_read = True

    def read(self, *args: Any, **kwargs: Any) -> bytes:
        chunk: bytes = self._stream.read(*args, **kwargs)
        self._note(chunk, args, kwargs)
        return chunk

    def readline(self, *args: Any, **kwargs: Any) -> bytes:
        line: bytes = self._stream.readline(*args, **kwargs)
        if line.endswith(b"\n"):
            self._feed(line)  # a whole line says nothing of what follows
        else:
            self._note(line, args, kwargs)
        return line

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@dataclass(frozen=True)
class Body:
    """A request's body, read in whole: its fingerprint, the copy the view reads (which
    tells whether the view read it to its end), and whether the client sent all of it."""

    fingerprint: str
    stream: HashingStream
    complete: bool
    spool: Any

    def close(self) -> None:
        if self.spool is not None:
            self.spool.close()


def _read_body(request: HttpRequest) -> Body:
    """Read the whole body (bounded by api/bodies.py) into a copy that the view reads
    instead. No transaction is open: waiting for a slow client holds no lock.

    A body of a type the operation does not parse is not read at all: the view refuses it
    (415) without reading it, or, for an operation that takes no body, ignores it. Only its
    media type counts in the fingerprint."""
    fingerprint = Fingerprint(request)
    if not takes_body(request):
        fingerprint.feed(b"(a body this operation does not read)")
        return Body(fingerprint.hexdigest(), HashingStream(request._stream, None), True, None)
    declared = max(_left_to_read(request._stream) or 0, 0)
    incoming = HashingStream(request._stream, fingerprint)
    spool = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE)  # noqa: SIM115  # closed by Body.close
    received = 0
    try:
        while chunk := incoming.read(CHUNK):
            spool.write(chunk)
            received += len(chunk)
    except OSError:  # the client went away; a server may say so rather than end the stream
        pass
    spool.seek(0)
    stream = HashingStream(LimitedStream(spool, received), None)  # type: ignore[arg-type]  # any binary file
    request._stream = stream  # type: ignore[assignment]  # reads like the stream it wraps
    return Body(fingerprint.hexdigest(), stream, received >= declared, spool)


# --- Problems ---------------------------------------------------------------------------


def _problem(request: HttpRequest, status: int, code: str, detail: str, **kwargs: Any) -> JsonResponse:
    return JsonResponse(
        problem(status, code=code, detail=detail, instance=request.path, **kwargs),
        status=status,
        content_type=PROBLEM_CONTENT_TYPE,
        json_dumps_params={"ensure_ascii": False},
    )


def _invalid_key(request: HttpRequest) -> JsonResponse:
    message = _("The Idempotency-Key header must have 1 to 255 printable ASCII characters.")
    errors = [{"field": HEADER, "code": "invalid_idempotency_key", "message": message}]
    return _problem(request, 400, "invalid_idempotency_key", message, errors=errors)


def _in_use(request: HttpRequest) -> JsonResponse:
    response = _problem(
        request,
        409,
        "idempotency_key_in_use",
        _("A request with this Idempotency-Key is still being processed. Retry in a moment."),
    )
    response["Retry-After"] = "1"
    return response


def _incomplete(request: HttpRequest) -> JsonResponse:
    return _problem(
        request, 400, "incomplete_body", _("The request body ended before the length its Content-Length header gave.")
    )


def _reused(request: HttpRequest) -> JsonResponse:
    return _problem(
        request,
        422,
        "idempotency_key_reused",
        _(
            "This Idempotency-Key was used for a different request (another body or address). "
            "Use a new key for a new request."
        ),
    )


# --- The records ------------------------------------------------------------------------


@dataclass(frozen=True)
class Hold:
    """This request holds the key: the row it reserved (or took over) at `locked_at`."""

    pk: int
    locked_at: datetime


def _reserve(*, digest: str, user_id: Any) -> Hold | IdempotencyRecord | None:
    """Hold the key, or return the row that another request holds or completed (None:
    the key stayed contended through every attempt)."""
    for _attempt in range(3):
        now = timezone.now()
        try:
            with transaction.atomic():
                row = IdempotencyRecord.objects.create(
                    digest=digest, user_id=user_id, locked_at=now, expires_at=now + _ttl()
                )
            return Hold(row.pk, now)
        except IntegrityError:
            pass
        found = IdempotencyRecord.objects.filter(digest=digest).first()
        if found is None:
            continue  # freed or purged since the insert failed
        crashed = found.state == IdempotencyState.IN_PROGRESS and found.locked_at <= now - _lock()
        if not (crashed or found.expires_at <= now):
            return found
        # A holder that died, or a key past its time: take the row over unless another
        # retry has just done so (the update matches the row as it was read, or nothing).
        taken = IdempotencyRecord.objects.filter(pk=found.pk, state=found.state, locked_at=found.locked_at).update(
            state=IdempotencyState.IN_PROGRESS,
            locked_at=now,
            expires_at=now + _ttl(),
            fingerprint="",
            status_code=None,
            headers={},
            body=b"",
            completed_at=None,
        )
        if taken:
            return Hold(found.pk, now)
    return None


def one_time_secrets() -> list[tuple[type[Any], str, str]]:
    """The members of an answer shown once, by the output serializer that renders them:
    (serializer class, member, the note a replay shows instead). A kept answer never holds
    them: a retry would hand a partner's API key or a webhook signing secret to whoever
    holds the Idempotency-Key, for as long as the answer is kept."""
    from api.partners import PartnerKeyCreatedOutput  # the views import this module's callers
    from api.webhooks import WebhookCreatedOutput

    return [
        (
            PartnerKeyCreatedOutput,
            "key",
            _(
                "Not shown again: the key was shown once, in the first answer to this request. "
                "If that answer was lost, revoke this key and issue a new one."
            ),
        ),
        (
            WebhookCreatedOutput,  # and WebhookSecretRotatedOutput, its subclass
            "secret",
            _(
                "Not shown again: the secret was shown once, in the first answer to this request. "
                "If that answer was lost, rotate the secret to get a new one."
            ),
        ),
    ]


def _kept_body(response: HttpResponse) -> bytes:
    """The body to keep for a replay: the response's, with every one-time secret in it
    replaced by its note."""
    serializer = getattr(getattr(response, "data", None), "serializer", None)
    notes = {member: note for cls, member, note in one_time_secrets() if isinstance(serializer, cls)}
    if not notes:
        return response.content
    body = json.loads(response.content)
    for member, note in notes.items():
        if member in body:
            body[member] = note
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _complete(hold: Hold, *, fingerprint: str, response: HttpResponse, caller: Caller, key: str) -> bool:
    """Keep the response on the held row, inside the view's transaction. False when the
    row is no longer ours (taken over after IDEMPOTENCY_LOCK_SECONDS)."""
    headers = {name: response[name] for name in STORED_HEADERS if name in response}
    # LocaleMiddleware adds Content-Language on the way out; a replay must name the
    # language its body is in, not the retry's.
    headers.setdefault("Content-Language", translation.get_language() or settings.LANGUAGE_CODE)
    now = timezone.now()
    return bool(
        IdempotencyRecord.objects.filter(
            pk=hold.pk, state=IdempotencyState.IN_PROGRESS, locked_at=hold.locked_at
        ).update(
            state=IdempotencyState.COMPLETED,
            fingerprint=fingerprint,
            status_code=response.status_code,
            headers=headers,
            body=response_cipher(client=caller.client, key=key).encrypt(_kept_body(response)),
            completed_at=now,
            expires_at=now + _ttl(),
        )
    )


def _release(hold: Hold) -> None:
    """Free the key for a retry, unless the response was kept after all (the commit
    succeeded and an on-commit callback failed) or another request took the key over."""
    IdempotencyRecord.objects.filter(pk=hold.pk, state=IdempotencyState.IN_PROGRESS, locked_at=hold.locked_at).delete()


def _replay(request: HttpRequest, row: IdempotencyRecord, *, caller: Caller, key: str) -> HttpResponse:
    try:
        body = response_cipher(client=caller.client, key=key).decrypt(bytes(row.body))
    except InvalidToken:
        # Only a SECRET_KEY changed without keeping the old one in SECRET_KEY_FALLBACKS
        # does this; running the request again could do it twice.
        logger.error("idempotency: the kept response of record %s cannot be decrypted", row.pk)
        return _problem(
            request,
            500,
            "idempotency_record_unreadable",
            _("The response kept for this Idempotency-Key is unreadable."),
        )
    assert row.status_code is not None
    response = HttpResponse(body, status=row.status_code)
    if "Content-Type" not in row.headers:
        del response["Content-Type"]
    for name, value in row.headers.items():
        response[name] = value
    response[REPLAYED_HEADER] = "true"
    return response


def purge_expired() -> int:
    """Delete the records past their expiry; returns how many."""
    deleted, _by_model = IdempotencyRecord.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted


# --- The middleware ---------------------------------------------------------------------


def _caller(request: HttpRequest) -> Caller | None:
    """The authenticated caller and the credential it came with, by the API's own
    authentication classes (each remembers its answer on the request, so the view does not
    look it up again)."""
    classes = cast(list[type[BaseAuthentication]], api_settings.DEFAULT_AUTHENTICATION_CLASSES)
    authenticators = [cls() for cls in classes]
    original = request.__dict__.get("user")
    try:
        drf_request = Request(request, authenticators=authenticators)
        user, auth = drf_request.user, drf_request.auth
    except exceptions.APIException:
        return None  # the view says 401 itself
    finally:
        if original is not None:
            request.user = original  # DRF's wrapper set it; the view will set it again
    if user is None or not user.is_authenticated:
        return None
    return caller_for(user=user, auth=auth)


class IdempotencyMiddleware:
    """See the module's docstring. After AuthenticationMiddleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        key = request.headers.get(HEADER)
        if key is None or request.method != "POST" or not request.path_info.startswith(PREFIX):
            return self.get_response(request)
        if getattr(request, "_read_started", False):
            logger.warning("idempotency: the body of %s was read before the middleware; key ignored", request.path)
            return self.get_response(request)
        caller = _caller(request)
        if caller is None:
            return self.get_response(request)
        if not valid_key(key):
            return _invalid_key(request)
        body = _read_body(request)
        try:
            if not body.complete:
                return _incomplete(request)
            return self._hold_and_run(request, body, caller=caller, key=key)
        except OperationalError as error:
            if is_lock_timeout(error):  # the key's own rows (the view's are answered by the view)
                return busy_response(request)
            raise
        finally:
            body.close()

    def _hold_and_run(self, request: HttpRequest, body: Body, *, caller: Caller, key: str) -> HttpResponseBase:
        held = _reserve(digest=key_digest(client=caller.client, key=key), user_id=caller.user_id)
        if held is None or (isinstance(held, IdempotencyRecord) and held.state == IdempotencyState.IN_PROGRESS):
            return _in_use(request)
        if isinstance(held, IdempotencyRecord):
            if body.fingerprint != held.fingerprint:
                return _reused(request)
            return _replay(request, held, caller=caller, key=key)
        return self._run(request, held, body, caller=caller, key=key)

    def _run(self, request: HttpRequest, hold: Hold, body: Body, *, caller: Caller, key: str) -> HttpResponseBase:
        kept = False
        try:
            with transaction.atomic():
                response = self.get_response(request)
                status = response.status_code
                if status >= 500 or transaction.get_rollback():
                    transaction.set_rollback(True)
                elif isinstance(response, HttpResponse) and _keeps(response, body.stream):
                    kept = _complete(hold, fingerprint=body.fingerprint, response=response, caller=caller, key=key)
                    if not kept:  # another request took the key over: it, not this one, counts
                        transaction.set_rollback(True)
                        response = _in_use(request)
        except BaseException:
            _release(hold)  # a no-op if the commit went through and only a callback failed
            raise
        if not kept:
            _release(hold)
        return response


def _keeps(response: HttpResponse, stream: HashingStream) -> bool:
    """Whether the answer is kept for the key: not one of NOT_KEPT, and a success, or a
    refusal given after the view read the whole body. A refusal given before (a role, a
    state, a size checked from the headers) did not depend on the body: the same key just
    runs again, and is refused again or runs once it may."""
    if response.status_code in NOT_KEPT:
        return False
    return response.status_code < 300 or stream.ended
