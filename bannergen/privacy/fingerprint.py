"""What decides which users (and under which pseudonyms) a load keeps, as one short hex string for
run keys and model fingerprints: a new secret, a forgotten user or a consent change means nothing
computed before is reused."""

from __future__ import annotations

import hashlib

from bannergen.config import Project
from bannergen.privacy.pseudonyms import project_pseudonymizer


def privacy_fingerprint(project: Project) -> str:
    h = hashlib.sha256(project_pseudonymizer(project).fingerprint.encode())
    h.update(b"hashed" if project.privacy.hashed_assignments else b"raw")
    for path in (project.privacy.forgotten, project.privacy.consent):
        try:
            h.update(path.read_bytes())
        except FileNotFoundError:
            h.update(b"<absent>")
        h.update(b"\x00")
    return h.hexdigest()[:24]
