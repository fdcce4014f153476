"""PyJWT as an independent peer for viewer tokens.

Input (JSON on stdin): {"hs_secret": b64url, "ed_seed": b64url, "mint": [{"alg", "kid"?, "claims"}],
"verify": [{"alg", "token", "audience"}]}. Output: {"minted": [token...], "verified": [claims or {"error": str}]}.
"""
import base64
import json
import sys

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def b64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


request = json.load(sys.stdin)
secret = b64(request["hs_secret"])
ed_private = Ed25519PrivateKey.from_private_bytes(b64(request["ed_seed"]))
ed_public = ed_private.public_key()

minted = []
for spec in request["mint"]:
    key = secret if spec["alg"] == "HS256" else ed_private
    headers = {"kid": spec["kid"]} if spec.get("kid") else None
    minted.append(jwt.encode(spec["claims"], key, algorithm=spec["alg"], headers=headers))

verified = []
for spec in request["verify"]:
    key = secret if spec["alg"] == "HS256" else ed_public
    try:
        verified.append(jwt.decode(spec["token"], key, algorithms=[spec["alg"]], audience=spec["audience"],
                                   options={"require": ["exp"]}))
    except Exception as error:  # noqa: BLE001 - the test reports whatever PyJWT refused
        verified.append({"error": f"{type(error).__name__}: {error}"})

json.dump({"minted": minted, "verified": verified}, sys.stdout)
