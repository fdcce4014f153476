"""Signs fal-style webhooks with Python's `cryptography`, an independent Ed25519 and SHA-256 implementation.

Input: {"seed": hex, "cases": [{"request_id", "user_id", "timestamp", "body": base64}]}.
Output: {"public_key": hex, "signatures": [hex, ...]}.
"""
import base64
import hashlib
import json
import sys

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

request = json.load(sys.stdin)
key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(request["seed"]))
signatures = []
for case in request["cases"]:
    body = base64.b64decode(case["body"])
    message = "\n".join([case["request_id"], case["user_id"], case["timestamp"], hashlib.sha256(body).hexdigest()]).encode()
    signatures.append(key.sign(message).hex())
public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
json.dump({"public_key": public, "signatures": signatures}, sys.stdout)
