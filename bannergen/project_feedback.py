"""A project's feedback, as ``bannergen feedback ingest`` and ``bannergen report`` use it: ingest a
file into the store, flagging variant and decision ids no manifest or decision log knows, and
report on the store with the items' titles and the renders' segments.

    >>> result = ingest_into(project, Path("events.csv"), store)  # doctest: +SKIP
    >>> result.counts.line()  # doctest: +SKIP
    'accepted=6497 duplicate=0 rejected=0'
"""

from __future__ import annotations

from pathlib import Path

from bannergen.cache import atomic_write
from bannergen.config import Project
from bannergen.errors import InputError
from bannergen.feedback import IngestResult, ingest_file
from bannergen.ope import banner_index, known_decision_ids
from bannergen.ope.inputs import item_table
from bannergen.privacy.pseudonyms import project_pseudonymizer
from bannergen.reporting import build_report, to_csv, to_json, to_table, write_html
from bannergen.store import is_database_url, open_feedback_store

TEXT_FORMATS = {"table": to_table, "json": to_json, "csv": to_csv}


def ingest_into(project: Project | None, file: Path, store: Path | str, rejects: Path | None = None,
                timeout: float = 5.0) -> IngestResult:
    """Add the feedback events of ``file`` to ``store`` (a SQLite file or a PostgreSQL URL); rows
    whose variant id is in no manifest and no serve log, or whose decision id is in no decision
    log, are kept and counted (not checked outside a project). User ids are stored as pseudonyms
    (the project's secret, or BANNERGEN_SECRET outside a project). Rejects go beside the store (for
    a database: beside the project's feedback.store path) unless ``rejects`` says where."""
    known = decisions = None
    if project is not None:
        # Known variants: every manifest's, and every banner serve rendered on demand.
        ids = banner_index(project.out, project.behaviour_location)["variant_id"]
        known = frozenset(ids) if len(ids) else None
        decisions = known_decision_ids(project.out, project.behaviour_location)
    if rejects is None:
        beside = Path(store) if not is_database_url(store) else project.feedback_store if project else Path("feedback")
        rejects = beside.with_name(f"{beside.stem}-rejects.txt")
    pseudonyms = project_pseudonymizer(project)  # user ids are stored as keyed hashes
    with open_feedback_store(store, timeout=timeout) as db:
        return ingest_file(file, db, known_variants=known, known_decisions=decisions, rejects_path=rejects,
                           display=str(file), pseudonymize=pseudonyms.series)


def report(project: Project | None, store: Path | str, by: str, fmt: str, out: Path | None = None) -> str | None:
    """The report of ``store`` grouped ``by`` (variant, template, item, segment, placement) as
    ``fmt`` (table, json, csv, html). Written to ``out`` when given (html needs it), returning
    None; else returned as text."""
    if fmt == "html" and out is None:
        raise InputError("--format html needs --out FILE")
    if fmt != "html" and fmt not in TEXT_FORMATS:
        raise InputError(f"--format: unknown format '{fmt}'", hint="table, json, csv or html")
    items = item_table(project.catalog, project.scoring) if project else None
    with open_feedback_store(store) as db:
        rep = build_report(db, by, project.out if project else None,
                           behaviour_store=project.behaviour_location if project else None, items=items)
        if fmt == "html":
            assert out is not None
            write_html(rep, out, db, fonts=project.assets / "fonts" if project else None)
            return None
    text = TEXT_FORMATS[fmt](rep)
    if out is None:
        return text
    atomic_write(out, text.encode("utf-8"))
    return None
