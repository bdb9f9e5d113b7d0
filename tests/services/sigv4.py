"""A tiny AWS Signature Version 4 signer and S3 client (stdlib only, loopback only).

Enough for tests: path-style requests, payload hash in `x-amz-content-sha256`.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import urllib.parse
from xml.etree import ElementTree
from dataclasses import dataclass
from typing import Mapping, Optional

from ._common import http_request

_UNRESERVED = "-_.~"


def _quote(s: str, safe: str = _UNRESERVED) -> str:
    return urllib.parse.quote(s, safe=safe)


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def sign_v4(method: str, url: str, headers: Mapping[str, str], body: bytes, *,
            access_key: str, secret_key: str, region: str, service: str = "s3",
            now: Optional[_dt.datetime] = None) -> dict[str, str]:
    """Return `headers` plus Host, X-Amz-Date, X-Amz-Content-Sha256 and Authorization."""
    now = now or _dt.datetime.now(_dt.timezone.utc)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    datestamp = now.strftime("%Y%m%d")
    parts = urllib.parse.urlsplit(url)
    payload_hash = hashlib.sha256(body).hexdigest()

    out = {k: v for k, v in headers.items()}
    out["Host"] = parts.netloc
    out["X-Amz-Date"] = amz_date
    out["X-Amz-Content-Sha256"] = payload_hash

    canon_headers = {}
    for k, v in out.items():
        canon_headers[k.lower().strip()] = " ".join(str(v).split())
    signed_headers = ";".join(sorted(canon_headers))
    canonical_headers = "".join(f"{k}:{canon_headers[k]}\n" for k in sorted(canon_headers))

    # S3 paths are encoded once (the URL already carries the encoded form).
    path = parts.path or "/"
    canonical_path = _quote(urllib.parse.unquote(path), safe=_UNRESERVED + "/")
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    canonical_query = "&".join(
        f"{_quote(k)}={_quote(v)}" for k, v in sorted(query))

    canonical_request = "\n".join([method.upper(), canonical_path, canonical_query,
                                   canonical_headers, signed_headers, payload_hash])
    scope = f"{datestamp}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                                hashlib.sha256(canonical_request.encode()).hexdigest()])
    key = _hmac(("AWS4" + secret_key).encode(), datestamp)
    key = _hmac(key, region)
    key = _hmac(key, service)
    key = _hmac(key, "aws4_request")
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    out["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
                            f"SignedHeaders={signed_headers}, Signature={signature}")
    return out


class S3Error(RuntimeError):
    def __init__(self, method: str, url: str, status: int, body: bytes):
        self.status = status
        self.body = body
        self.code = _xml_tag(body, "Code")
        super().__init__(f"{method} {url} -> {status} {self.code or ''}: {body[:300]!r}")


def _xml_tag(body: bytes, tag: str) -> Optional[str]:
    text = body.decode("utf-8", "replace")
    start = text.find(f"<{tag}>")
    end = text.find(f"</{tag}>")
    if start < 0 or end < 0:
        return None
    return text[start + len(tag) + 2:end]


@dataclass
class S3Response:
    status: int
    headers: dict
    body: bytes


@dataclass
class S3Client:
    """Path-style S3 client for tests: `S3Client(endpoint, key, secret, region)`."""

    endpoint: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"
    timeout: float = 30.0

    def request(self, method: str, bucket: str = "", key: str = "", body: bytes = b"",
                query: Optional[Mapping[str, str]] = None, headers: Optional[Mapping[str, str]] = None,
                check: bool = True) -> S3Response:
        path = "/"
        if bucket:
            path += _quote(bucket)
            if key:
                path += "/" + _quote(key, safe=_UNRESERVED + "/")
        url = self.endpoint.rstrip("/") + path
        if query:
            url += "?" + "&".join(f"{_quote(k)}={_quote(v)}" if v != "" else _quote(k)
                                  for k, v in query.items())
        signed = sign_v4(method, url, headers or {}, body, access_key=self.access_key,
                         secret_key=self.secret_key, region=self.region)
        signed.pop("Host")  # urllib sets it from the URL (same value)
        status, resp_headers, resp_body = http_request(
            url, method=method, data=body if method in ("PUT", "POST") else None,
            headers=signed, timeout=self.timeout)
        if check and not 200 <= status < 300:
            raise S3Error(method, url, status, resp_body)
        return S3Response(status, resp_headers, resp_body)

    def put_object(self, bucket: str, key: str, body: bytes, **kw) -> S3Response:
        return self.request("PUT", bucket, key, body, **kw)

    def get_object(self, bucket: str, key: str, **kw) -> bytes:
        return self.request("GET", bucket, key, **kw).body

    def delete_object(self, bucket: str, key: str, **kw) -> S3Response:
        return self.request("DELETE", bucket, key, **kw)

    def head_bucket(self, bucket: str, **kw) -> S3Response:
        return self.request("HEAD", bucket, **kw)

    def create_bucket(self, bucket: str, **kw) -> S3Response:
        return self.request("PUT", bucket, **kw)

    def list_keys(self, bucket: str, prefix: str = "") -> list[str]:
        body = self.request("GET", bucket, query={"list-type": "2", "prefix": prefix}).body
        root = ElementTree.fromstring(body)
        return [el.text or "" for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "Key"]
