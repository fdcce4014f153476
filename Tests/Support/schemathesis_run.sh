#!/usr/bin/env bash
# Checks a running app listener against Sources/AppServer/openapi.yaml, the one description of the admin API and
# the fal webhook (CONTRACT § Admin API: "the server's answers conform to it, tested by a spec-driven fuzzer").
#
#   Tests/Support/schemathesis_run.sh APP_BASE_URL ADMIN_TOKEN     # e.g. http://127.0.0.1:8081 dev-admin-token
#   Tests/Support/schemathesis_run.sh --jwks SEED_HEX              # print the FAL_JWKS_FILE for a signing seed
#
# 1. openapi-spec-validator: the document is valid OpenAPI 3.1.
# 2. GET APP_BASE_URL/openapi.yaml must be this file, byte for byte (the binary embeds it; a stale build fails).
# 3. schemathesis (v4) with every check and every phase (examples, coverage, fuzzing, stateful: the document's
#    links chain register → read/share/stats/delete, share → revoke, revocation → lift). Exits non-zero on any
#    failure; JUnit and NDJSON reports go to SCHEMATHESIS_REPORT_DIR when it is set.
#
# The server must run with the `webhook` role (the default), USHER_DEMO=1 (or /demo answers 404, which the
# document allows), ADMIN_TOKEN among USHER_ADMIN_TOKENS and no FAL_WEBHOOK_USER_IDS (else every signed delivery
# stops at its 403). Point it at a database you can fill with junk: the fuzzer registers, shares, revokes and
# deletes thousands of generations. Give it MIRROR_ALLOWED_HOSTS=mirror.invalid (or any host that does not
# resolve) so the worker never fetches the URLs the fuzzer makes up.
#
# fal's webhook: set USHER_FAL_SIGNING_SEED to the hex of a 32-byte Ed25519 seed and start the server with
# FAL_JWKS_FILE holding its public key (`--jwks SEED_HEX` prints that file). schemathesis_hooks.py then signs each
# delivery as fal does, so the fuzzer gets past the signature into the payload's handling; without it the
# webhook is fuzzed unsigned and only its 401 path is tested (said so below).
#
# Environment: USHER_PYTHON (else python3) with schemathesis 4.x and openapi-spec-validator installed
#   ("$USHER_PYTHON" -m pip install 'schemathesis>=4.32,<5' 'openapi-spec-validator>=0.9,<0.10');
#   SCHEMATHESIS_MAX_TIME [120]: seconds for the whole run: after one pass of every phase, fuzzing and stateful
#   testing repeat with new inputs until it is spent, so a run takes about this long (2 min 5 s in all against a
#   debug build on 2 cores, server included) however fast the machine is;
#   SCHEMATHESIS_MAX_EXAMPLES [100]: examples per operation in one pass of a phase;
#   SCHEMATHESIS_SEED: replay a run (each run prints its seed); SCHEMATHESIS_REPORT_DIR: where reports go;
#   SCHEMATHESIS_STATE_DIR [.build/schemathesis]: where Hypothesis keeps the failing examples it found, which
#   later runs try first (remove it for a run from scratch).
#
# Checks: all of them (`--checks all`), none turned off. What the document cannot state is narrowed in
# schemathesis.toml and schemathesis_hooks.py, each to one operation and one check:
#   - positive_data_acceptance also accepts 400 for GET /v1/generations (a `cursor` is valid only when the API
#     made it) and for GET /v1/generations/{id}/stats (`from` and `to` must together make ≤ 400 days);
#   - use_after_free ignores a GET of a generation or its stats after its DELETE when the answer shows the row
#     DELETED: deletion is soft for 30 days (CONTRACT § Deletion), not a use after free;
#   - negative_data_rejection also counts 413, 414 and 431 as rejections (a body, URL or head over its documented
#     limit: a drawn array for a scalar query parameter can make a URL over 8 KiB);
#   - negative_data_rejection ignores GET /demo/{id} answering 200 to a malformed `token` beside a valid `share`
#     (the page plays the share and never reads the token, as documented).
set -euo pipefail

ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)"
SUPPORT="$ROOT/Tests/Support"
DOCUMENT="$ROOT/Sources/AppServer/openapi.yaml"
PY="${USHER_PYTHON:-python3}"
[[ $PY != */* ]] || PY="$(realpath -ms "$PY")" # absolute (the run below changes directory), not resolved: a venv

die() { printf 'schemathesis_run: %s\n' "$*" >&2; exit 2; }

if [[ ${1:-} == --jwks ]]; then
  [[ $# -eq 2 && $2 =~ ^[0-9a-fA-F]{64}$ ]] || die "usage: $0 --jwks SEED_HEX (64 hex digits)"
  exec "$PY" - "$2" <<'PY'
import base64, json, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(sys.argv[1])).public_key()
x = base64.urlsafe_b64encode(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).rstrip(b"=").decode()
print(json.dumps({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "schemathesis", "x": x}]}))
PY
fi

[[ $# -eq 2 ]] || die "usage: $0 APP_BASE_URL ADMIN_TOKEN | $0 --jwks SEED_HEX"
BASE_URL="${1%/}"
TOKEN="$2"
MAX_TIME="${SCHEMATHESIS_MAX_TIME:-120}"
MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-100}"
[[ $MAX_TIME =~ ^[1-9][0-9]*$ ]] || die "SCHEMATHESIS_MAX_TIME must be a positive integer (seconds)"
[[ $MAX_EXAMPLES =~ ^[1-9][0-9]*$ ]] || die "SCHEMATHESIS_MAX_EXAMPLES must be a positive integer"

INSTALL="\"$PY\" -m pip install 'schemathesis>=4.32,<5' 'openapi-spec-validator>=0.9,<0.10'"
"$PY" - <<'PY' || die "needs schemathesis 4.x and openapi-spec-validator in $PY: $INSTALL"
import importlib.metadata as m, sys
try:
    st, osv = m.version("schemathesis"), m.version("openapi-spec-validator")
except m.PackageNotFoundError as missing:
    sys.exit(f"not installed: {missing}")
print(f"schemathesis {st}, openapi-spec-validator {osv}")
sys.exit(0 if st.split(".")[0] == "4" else f"schemathesis {st} is not 4.x")
PY

echo "== openapi-spec-validator $DOCUMENT"
"$PY" -m openapi_spec_validator "$DOCUMENT"

echo "== GET $BASE_URL/openapi.yaml is this document"
served="$(mktemp)"
trap 'rm -f "$served"' EXIT
status="$(curl -sS -o "$served" -w '%{http_code}' "$BASE_URL/openapi.yaml")" || die "cannot reach $BASE_URL"
[[ $status == 200 ]] || { echo "schemathesis_run: GET /openapi.yaml answered $status, not 200" >&2; exit 1; }
if ! cmp -s "$served" "$DOCUMENT"; then
  echo "schemathesis_run: the server serves another openapi.yaml than $DOCUMENT (rebuild?)" >&2
  exit 1
fi

if [[ -z ${USHER_FAL_SIGNING_SEED:-} ]]; then
  echo "note: USHER_FAL_SIGNING_SEED is not set: POST /webhooks/fal is fuzzed unsigned (its 401 path only)"
else
  # A signed body that is not a JSON object: 400 if the server has the seed's key (403 with FAL_WEBHOOK_USER_IDS,
  # which the server checks first), 401 if not. Stores nothing.
  echo "== the server verifies USHER_FAL_SIGNING_SEED's signatures"
  if ! "$PY" - "$BASE_URL" <<'PY'; then
import hashlib, os, sys, time, urllib.error, urllib.request
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(os.environ["USHER_FAL_SIGNING_SEED"].strip()))
body, request_id, user_id, timestamp = b"[]", "schemathesis-probe", "schemathesis", str(int(time.time()))
signature = key.sign("\n".join([request_id, user_id, timestamp, hashlib.sha256(body).hexdigest()]).encode()).hex()
headers = {"Content-Type": "application/json", "X-Fal-Webhook-Request-Id": request_id, "X-Fal-Webhook-User-Id": user_id,
           "X-Fal-Webhook-Timestamp": timestamp, "X-Fal-Webhook-Signature": signature}
try:
    status = urllib.request.urlopen(urllib.request.Request(sys.argv[1] + "/webhooks/fal", body, headers)).status
except urllib.error.HTTPError as error:
    status = error.code
sys.exit(0 if status in (400, 403) else 1)
PY
    echo "schemathesis_run: the server's FAL_JWKS_FILE does not hold the seed's public key (see --jwks)" >&2
    exit 1
  fi
fi

args=(
  run "$DOCUMENT"
  --url "$BASE_URL"
  --header "Authorization: Bearer $TOKEN"
  --checks all
  --phases "examples,coverage,fuzzing,stateful"
  --max-examples "$MAX_EXAMPLES"
  --max-time "$MAX_TIME"
  --no-color
)
if [[ -n ${SCHEMATHESIS_SEED:-} ]]; then args+=(--seed "$SCHEMATHESIS_SEED"); fi
if [[ -n ${SCHEMATHESIS_REPORT_DIR:-} ]]; then
  args+=(--report "junit,ndjson" --report-dir "$(realpath -m "$SCHEMATHESIS_REPORT_DIR")")
fi

STATE="${SCHEMATHESIS_STATE_DIR:-$ROOT/.build/schemathesis}"
mkdir -p "$STATE"
echo "== schemathesis ${args[*]/#Authorization: Bearer */Authorization: Bearer [token]}  (in $STATE)"
started=$SECONDS
rc=0
cd "$STATE"
SCHEMATHESIS_HOOKS="$SUPPORT/schemathesis_hooks.py" "$PY" -c '
import sys
from schemathesis.cli import schemathesis
sys.argv[0] = "schemathesis"
sys.exit(schemathesis())' --config-file "$SUPPORT/schemathesis.toml" "${args[@]}" || rc=$?
echo "schemathesis_run: exit $rc after $((SECONDS - started)) s"
exit "$rc"
