"""`templates new`: a new template folder copied from an existing one, ready to edit.

    new_template(Path("templates"), "double-eleven", source="price-drop")
    # templates/double-eleven/ with id = "double-eleven", version = "1", status = "draft";
    # refuses to overwrite. A draft shows only in previews until `bannergen templates publish`.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from bannergen.errors import TemplateError
from bannergen.templating.campaign import set_status
from bannergen.templating.manifest import _ID, MANIFEST

_ID_LINE = re.compile(r'^id\s*=\s*"[^"]*"', re.M)
_VERSION_LINE = re.compile(r'^version\s*=\s*("[^"]*"|\d+)', re.M)


def new_template(templates_dir: Path, new_id: str, source: str = "product-spotlight") -> Path:
    """Copy ``templates_dir/source`` to ``templates_dir/new_id`` with its id and version ("1") set,
    as a draft (``status = "draft"``: no render or serve chooses it before it is published).
    Raises TemplateError for a bad id, an unknown source or an existing folder (never overwrites)."""
    templates_dir = Path(templates_dir)
    if not _ID.match(new_id):
        raise TemplateError(f"template id {new_id!r}: use lowercase letters, digits and '-'", hint="e.g. double-eleven")
    src = templates_dir / source
    if not (src / MANIFEST).is_file():
        known = (
            sorted(p.name for p in templates_dir.iterdir() if (p / MANIFEST).is_file())
            if templates_dir.is_dir()
            else []
        )
        raise TemplateError(f"{src}: no template to copy from", hint=f"templates: {known}")
    dest = templates_dir / new_id
    if dest.exists():
        raise TemplateError(
            f"{dest}: already exists; not overwriting it", hint="pick another id or delete the folder first"
        )
    tmp = templates_dir / f".{new_id}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp, ignore=shutil.ignore_patterns(".*", "__pycache__", "*.actual.png"))
    manifest = tmp / MANIFEST
    text = manifest.read_text(encoding="utf-8")
    text = _ID_LINE.sub(f'id = "{new_id}"', text, count=1)
    text = _VERSION_LINE.sub('version = "1"', text, count=1)
    manifest.write_text(
        f"# Copied from {source}; edit freely, then: bannergen templates validate {new_id}\n" + text, encoding="utf-8"
    )
    set_status(manifest, "draft")
    tmp.rename(dest)  # the folder appears complete or not at all
    return dest
