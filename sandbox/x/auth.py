"""OAuth 1.0a (HMAC-SHA1) verification of X's user-context requests, as RFC 5849 signs them.

The signature base string is rebuilt from what arrived: method, scheme://host[:port]/path as the
client addressed it, query + form + oauth_* parameters; authlib does the normalisation and HMAC so
the sandbox agrees with oauthlib (the official SDK's signer) byte for byte.
"""

from __future__ import annotations

import hmac
import time
from urllib.parse import unquote
from urllib.request import parse_http_list, parse_keqv_list

from authlib.oauth1.rfc5849.signature import construct_base_string, hmac_sha1_signature

from sandbox.server.credentials import XCredentials
from sandbox.x.errors import unauthorized

MAX_SKEW_SECONDS = 300  # X's tolerance is unpublished; five minutes is the usual OAuth 1.0a window


def parse_authorization(header: str) -> dict[str, str]:
    if not header[:6].lower() == "oauth ":
        raise unauthorized("Authorization header is missing or is not OAuth 1.0a")
    try:
        pairs = parse_keqv_list(parse_http_list(header[6:]))
    except ValueError:
        raise unauthorized("The OAuth Authorization header cannot be parsed") from None
    # Values stay percent-encoded: authlib unescapes oauth_* itself when building the base string.
    return {k.strip(): v for k, v in pairs.items() if k.strip() != "realm"}


def verify(
    *,
    credentials: XCredentials,
    method: str,
    url: str,
    params: list[tuple[str, str]],
    authorization: str,
    now: float | None = None,
) -> None:
    """Raise UNAUTHORIZED_ACCESS unless the request is signed by the configured consumer and token.

    `url` is scheme://host/path as sent (no query); `params` are the query and form pairs.
    """
    oauth = parse_authorization(authorization)
    if unquote(oauth.get("oauth_signature_method", "HMAC-SHA1")) != "HMAC-SHA1":
        raise unauthorized("Only HMAC-SHA1 signatures are accepted")
    for name in ("oauth_consumer_key", "oauth_token", "oauth_signature", "oauth_timestamp", "oauth_nonce"):
        if not oauth.get(name):
            raise unauthorized(f"OAuth parameter {name} is missing")
    if not hmac.compare_digest(unquote(oauth["oauth_consumer_key"]), credentials.consumer_key):
        raise unauthorized("Invalid or expired token (unknown consumer key)")
    if not hmac.compare_digest(unquote(oauth["oauth_token"]), credentials.access_token):
        raise unauthorized("Invalid or expired token")
    try:
        stamp = int(unquote(oauth["oauth_timestamp"]))
    except ValueError:
        raise unauthorized("oauth_timestamp is not a number") from None
    if abs((time.time() if now is None else now) - stamp) > MAX_SKEW_SECONDS:
        raise unauthorized("Timestamp out of bounds")
    signed = [*params, *((k, v) for k, v in oauth.items() if k != "oauth_signature")]
    base = construct_base_string(method, url, signed)
    expected = hmac_sha1_signature(base, credentials.consumer_secret, credentials.access_token_secret)
    if not hmac.compare_digest(expected, unquote(oauth["oauth_signature"])):
        raise unauthorized("Could not authenticate you (signature mismatch)")
