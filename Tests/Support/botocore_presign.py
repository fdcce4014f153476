"""Presigns each case read from stdin with botocore, the independent implementation Usher must match.

Input: a JSON array of {endpoint, region, bucket, key, addressing, access_key, secret_key, token?,
disposition?, content_type?, expires, time (Unix seconds)}. Output: a JSON array of URLs, in order.
"""
import datetime
import json
import sys
from unittest import mock

import botocore.auth
import botocore.session
from botocore.config import Config

cases = json.load(sys.stdin)
session = botocore.session.get_session()
clients = {}
urls = []
for case in cases:
    ident = (case["endpoint"], case["region"], case["addressing"], case["access_key"], case["secret_key"], case.get("token"))
    client = clients.get(ident)
    if client is None:
        client = session.create_client(
            "s3",
            region_name=case["region"],
            endpoint_url=case["endpoint"],
            aws_access_key_id=case["access_key"],
            aws_secret_access_key=case["secret_key"],
            aws_session_token=case.get("token"),
            config=Config(signature_version="s3v4", s3={"addressing_style": case["addressing"]}),
        )
        clients[ident] = client
    params = {"Bucket": case["bucket"], "Key": case["key"]}
    if case.get("disposition") is not None:
        params["ResponseContentDisposition"] = case["disposition"]
    if case.get("content_type") is not None:
        params["ResponseContentType"] = case["content_type"]
    when = datetime.datetime.fromtimestamp(case["time"], tz=datetime.timezone.utc)
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=when):
        urls.append(client.generate_presigned_url("get_object", Params=params, ExpiresIn=case["expires"]))
json.dump(urls, sys.stdout)
