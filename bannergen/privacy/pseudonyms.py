"""The keyed hash every user id is replaced by on entry, and where its secret comes from.

A pseudonym is ``"p"`` and the first 24 hex digits (96 bits) of HMAC-SHA256(secret, user id): the
same id always gives the same pseudonym under one secret, and nobody without the secret can go from
an id to its pseudonym (so a leaked store does not say whose rows are whose, and a CMS that holds
the secret can compute it). The secret is ``BANNERGEN_SECRET`` or ``[privacy] secret``; without one
a command that would store or read a user id exits 3.

    >>> p = Pseudonymizer.from_secret("s3cret")
    >>> p.one("zhangsan")
    'p20df985a4d665b98a2330250'
    >>> p.one("zhangsan") == p.one("zhangsan") != Pseudonymizer.from_secret("other").one("zhangsan")
    True
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bannergen.config import SECRET_ENV, Project
from bannergen.errors import EnvironmentFailure

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

DIGITS = 24
PREFIX = "p"
# Used only by `serve --open` on a loopback address without a secret (a developer's machine): the
# pseudonyms are then not secret, which is said at start-up.
LOOPBACK_SECRET = "bannergen-open-loopback-development-only"


@dataclass(frozen=True)
class Pseudonymizer:
    """HMAC-SHA256 of user ids under one secret."""

    key: bytes

    @classmethod
    def from_secret(cls, secret: str) -> Pseudonymizer:
        return cls(secret.encode("utf-8"))

    def one(self, user_id: str) -> str:
        """The pseudonym of one user id."""
        return PREFIX + hmac.digest(self.key, user_id.encode("utf-8"), "sha256").hex()[:DIGITS]

    def many(self, user_ids: Iterable[str]) -> list[str]:
        key, digest = self.key, hmac.digest  # one-shot HMAC in C: about 1 us an id
        return [PREFIX + digest(key, u.encode("utf-8"), "sha256").hex()[:DIGITS] for u in user_ids]

    def series(self, user_ids: pd.Series) -> pd.Series:
        """Pseudonyms of a column of ids, same index: each distinct id is hashed once and mapped back
        (an events file names each user many times)."""
        import numpy as np
        import pandas as pd

        codes, uniques = pd.factorize(user_ids, sort=False)
        hashed = np.asarray(self.many(uniques.astype(str)), dtype=object)
        return pd.Series(hashed[codes] if len(codes) else hashed[:0], index=user_ids.index, dtype="str")

    @property
    def fingerprint(self) -> str:
        """Names the secret in run keys and model fingerprints (a new secret means new pseudonyms,
        so nothing made under the old one is reused) without revealing it."""
        return hmac.new(self.key, b"bannergen key fingerprint", hashlib.sha256).hexdigest()[:16]


def project_pseudonymizer(project: Project | None) -> Pseudonymizer:
    """The project's pseudonymizer (outside a project: BANNERGEN_SECRET's); exit 3
    (EnvironmentFailure) with a hint when no secret is set."""
    secret = project.privacy.secret if project is not None else os.environ.get(SECRET_ENV, "")
    if not secret:
        raise EnvironmentFailure(
            "no project secret: user ids are stored only as keyed hashes, and the key is missing",
            hint=f"set {SECRET_ENV} (e.g. `export {SECRET_ENV}=$(openssl rand -hex 32)`) or [privacy] secret in "
                 "bannergen.toml, and keep it: pseudonyms made under one secret are not found under another")
    return Pseudonymizer.from_secret(secret)
