"""API keys for the write endpoints, and HMAC-signed asset URLs.

Keys: ``Authorization: Bearer KEY``; the accepted keys come from the environment variable
BANNERGEN_API_KEY (comma-separated, so a key can be rotated) or ``serve.api_key``. A server with
no key refuses to start unless it is told to run open (``--open``) on a loopback address.

Signed asset URLs: ``/assets/ID.webp?exp=UNIX&sig=HEX`` where sig is the first 32 hex digits of
HMAC-SHA256(key, "PATH\\nEXP"); the asset route answers 403 to a missing, wrong or expired one.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import time

from bannergen.errors import ConfigError
from bannergen.service.problems import Problem

KEY_ENV = "BANNERGEN_API_KEY"
SIGNING_ENV = "BANNERGEN_SIGNING_KEY"


def api_keys(configured: str) -> tuple[str, ...]:
    raw = os.environ.get(KEY_ENV) or configured
    return tuple(k.strip() for k in raw.split(",") if k.strip())


def signing_key(configured: str) -> str:
    return os.environ.get(SIGNING_ENV) or configured


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, keys: tuple[str, ...], allow_open: bool) -> None:
    """Refuse to serve write endpoints without a key, except explicitly and on loopback."""
    if keys:
        return
    if not allow_open:
        raise ConfigError(
            "no API key: the write endpoints would be open to anyone who reaches the server",
            hint=f"set {KEY_ENV} (or serve.api_key in bannergen.toml), or pass --open on a loopback --host",
        )
    if not is_loopback(host):
        raise ConfigError(f"--open is only allowed on a loopback address; got --host {host}",
                          hint=f"set {KEY_ENV} to serve on {host}")


def key_matches(header: str | None, keys: tuple[str, ...]) -> int:
    """0 when ``header`` carries one of ``keys``; else the status to answer: 401 none, 403 wrong."""
    if not header or not header.startswith("Bearer ") or not header[7:].strip():
        return 401
    given = header[7:].strip().encode()
    ok = False
    for k in keys:  # compare with every key, in constant time
        ok |= hmac.compare_digest(given, k.encode())
    return 0 if ok else 403


def require_key(keys: tuple[str, ...], authorization: str | None) -> None:
    """Problem 401 (no key) or 403 (a wrong one) for ``authorization``; no check without ``keys``
    (a server started with --open on loopback)."""
    if not keys:
        return
    status = key_matches(authorization, keys)
    if status == 401:
        raise Problem(401, "send the API key as 'Authorization: Bearer KEY'", headers={"WWW-Authenticate": "Bearer"})
    if status == 403:
        raise Problem(403, "the API key is not valid")


class Signer:
    def __init__(self, key: str, ttl_s: int) -> None:
        if not key:
            raise ConfigError("serve.sign_assets is on but there is no signing key",
                              hint=f"set {SIGNING_ENV} or serve.signing_key")
        self.key = key.encode()
        self.ttl_s = ttl_s

    def _mac(self, path: str, exp: int) -> str:
        return hmac.new(self.key, f"{path}\n{exp}".encode(), hashlib.sha256).hexdigest()[:32]

    def sign(self, path: str, now: float | None = None) -> str:
        exp = int((now or time.time()) + self.ttl_s)
        return f"{path}?exp={exp}&sig={self._mac(path, exp)}"

    def verify(self, path: str, exp: str | None, sig: str | None, now: float | None = None) -> str:
        """'' when valid, else the reason."""
        if not exp or not sig:
            return "this asset URL must be signed (exp and sig query parameters)"
        if not exp.isdigit() or len(exp) > 12:
            return "exp must be a unix time"
        if int(exp) < (now or time.time()):
            return "the signed URL has expired"
        if not hmac.compare_digest(sig.encode(), self._mac(path, int(exp)).encode()):
            return "the signature does not match"
        return ""
