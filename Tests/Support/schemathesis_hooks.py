"""Schemathesis hooks for Usher's app listener (loaded by schemathesis_run.sh through SCHEMATHESIS_HOOKS).

fal's webhook verifies an Ed25519 signature over the raw body before it reads anything, so unsigned fuzzing only
ever reaches the 401. With USHER_FAL_SIGNING_SEED (hex of the 32-byte Ed25519 seed whose public key is in the
server's FAL_JWKS_FILE), each POST /webhooks/fal is signed the way fal signs it, and the fuzzer tests what comes
after the signature: the payload's parsing, the request id's rule, the database writes.

Only values that already fit their schema are replaced: a generated timestamp becomes the current time, a
signature the real one, and `X-Fal-Webhook-Request-Id` the body's `request_id` (the server requires them equal,
which a schema cannot say). A header the fuzzer left out or made invalid on purpose is left as it is, so the
negative cases still reach the server as negative cases (schemathesis re-validates a case after this hook edits it).
"""

import hashlib
import json
import os
import re
import time

import schemathesis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

_SEED = os.environ.get("USHER_FAL_SIGNING_SEED", "").strip()
_KEY = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(_SEED)) if _SEED else None

_REQUEST_ID = "X-Fal-Webhook-Request-Id"
_USER_ID = "X-Fal-Webhook-User-Id"
_TIMESTAMP = "X-Fal-Webhook-Timestamp"
_SIGNATURE = "X-Fal-Webhook-Signature"
_TIMESTAMP_SHAPE = re.compile(r"^[+-]?[0-9]{1,19}$")
_SIGNATURE_SHAPE = re.compile(r"^[0-9A-Fa-f]{128}$")
# What a header carries unchanged: printable ASCII without leading or trailing spaces (HTTP trims those, and
# requests would send other characters as Latin-1, which the server reads as UTF-8).
_FIELD_VALUE = re.compile(r"^(?:[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?)?$")


def _wire_body(case) -> bytes:
    """The body exactly as the requests transport will send it (requests' own JSON encoding for `json=`)."""
    kwargs = case.as_transport_kwargs()
    if "json" in kwargs and kwargs["json"] is not None:
        return json.dumps(kwargs["json"], allow_nan=False).encode("utf-8")
    data = kwargs.get("data")
    if data is None:
        return b""
    return data if isinstance(data, bytes) else str(data).encode("utf-8")


def _header(headers: dict, name: str):
    for key, value in headers.items():
        if key.lower() == name.lower():
            return key, value
    return None, None


@schemathesis.hook
def before_call(context, case, kwargs):
    if _KEY is None or case.method.upper() != "POST" or case.operation.path != "/webhooks/fal":
        return
    headers = case.headers if case.headers is not None else {}
    found = {name: _header(headers, name) for name in (_REQUEST_ID, _USER_ID, _TIMESTAMP, _SIGNATURE)}
    if any(key is None for key, _ in found.values()):
        return  # a header left out on purpose: the server must refuse it (401)
    if not _TIMESTAMP_SHAPE.match(str(found[_TIMESTAMP][1])) or not _SIGNATURE_SHAPE.match(str(found[_SIGNATURE][1])):
        return  # a header made invalid on purpose
    user_id = str(found[_USER_ID][1])
    if not _FIELD_VALUE.match(user_id):
        return  # HTTP would trim or refuse it, so no signature over it could match
    request_id = str(found[_REQUEST_ID][1])
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("request_id"), str) and _FIELD_VALUE.match(body["request_id"]):
        request_id = body["request_id"]
    elif not _FIELD_VALUE.match(request_id):
        return
    timestamp = str(int(time.time()))
    digest = hashlib.sha256(_wire_body(case)).hexdigest()
    signature = _KEY.sign("\n".join([request_id, user_id, timestamp, digest]).encode("utf-8")).hex()
    for name, value in ((_REQUEST_ID, request_id), (_TIMESTAMP, timestamp), (_SIGNATURE, signature)):
        headers[found[name][0]] = value
    case.headers = headers


_SHARE_CODE = re.compile(r"^[A-Za-z0-9_-]{22,64}$")


@schemathesis.hook
def filter_failure(context, failure, case, response):
    """Drops the failures that are the documented behaviour, and only those:

    - GET /demo/{id} with a valid `share` plays the share (the document says `share`
      wins and `token` is then neither used nor checked), so a malformed `token` beside it is not refused.
    - DELETE /v1/generations/{id} is a soft delete: the row stays 30 days as DELETED with `deleted_at`
      (CONTRACT § Deletion), and GET shows it (and its plays) for support. Such a 200 after the DELETE is the
      contract, not a use after free; any other 2xx after a DELETE is still reported.
    """
    code = getattr(failure, "code", None)
    if code == "ST201" and case.operation.path == "/demo/{id}" and response.status_code == 200:
        share = (case.query or {}).get("share")
        return not (isinstance(share, str) and _SHARE_CODE.match(share))
    if code != "ST301" or case.method.upper() != "GET":
        return True
    if case.operation.path == "/v1/generations/{request_id}/stats":
        return False
    if case.operation.path == "/v1/generations/{request_id}":
        try:
            body = response.json()
        except Exception:
            return True
        return not (body.get("status") == "DELETED" and body.get("deleted_at"))
    return True
