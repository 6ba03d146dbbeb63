"""Campaign settings of a template (template.toml): whether it is live, when, and for whom.

    status = "draft"                        # "draft" | "live" | "paused"; without it: live
    start = 2026-11-11T00:00:00+08:00       # a time zone is required (TOML datetime or text)
    end = 2026-11-12T00:00:00+08:00
    segments = ["new-customers"]            # only their members can get it
    max_share = 0.3                         # at most this share of users can get it

A draft shows only in previews; a paused template is kept out like a draft, and so is a live
one outside its window. ``Campaign.state(now)`` says which of these holds. The keys are read
here and nowhere else; selection applies them (bannergen.selection.eligibility).
"""

from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from bannergen.cache import atomic_write
from bannergen.errors import TemplateError

STATUSES = ("draft", "live", "paused")
KEYS = ("status", "start", "end", "segments", "max_share")
EXAMPLE_TIME = "2026-11-11T00:00:00+08:00"


@dataclass(frozen=True)
class Campaign:
    """``start``/``end`` are aware datetimes (None: open on that side); ``segments`` empty: every
    user; ``max_share`` None: no limit."""

    status: str = "live"
    start: datetime | None = None
    end: datetime | None = None
    segments: tuple[str, ...] = ()
    max_share: float | None = None

    def state(self, now: datetime) -> str:
        """"draft", "paused", "scheduled" (live, window not open yet), "ended" (live, window
        passed) or "live" (may be chosen now, for the users ``segments``/``max_share`` let in)."""
        if self.status != "live":
            return self.status
        if self.start is not None and now < self.start:
            return "scheduled"
        if self.end is not None and now >= self.end:
            return "ended"
        return "live"

    @property
    def restricted(self) -> bool:
        """True when only some users may get the template (segments or a share)."""
        return bool(self.segments) or self.max_share is not None

    @property
    def is_default(self) -> bool:
        """True for a template without campaign settings: live, always, for everybody."""
        return self == Campaign()

    def window(self) -> str:
        """"2026-11-11 00:00+08:00 .. 2026-11-12 00:00+08:00", "from ...", "until ...", or ""."""
        def at(t: datetime | None) -> str:
            return "" if t is None else t.isoformat(sep=" ", timespec="minutes")

        if self.start is None and self.end is None:
            return ""
        if self.end is None:
            return f"from {at(self.start)}"
        return f"until {at(self.end)}" if self.start is None else f"{at(self.start)} .. {at(self.end)}"


_STATE_WORDS = {"draft": "draft: only previews show it", "paused": "paused: nobody gets it",
                "scheduled": "scheduled: not open yet", "ended": "ended: its window has passed",
                "live": "live"}


def campaign_line(campaign: Campaign, now: datetime) -> str:
    """The campaign settings in one line, state first: "campaign: ended: its window has passed;
    window 2026-11-11 00:00+08:00 .. 2026-11-12 00:00+08:00; segments new-customers"."""
    parts = [_STATE_WORDS[campaign.state(now)]]
    if campaign.window():
        parts.append(f"window {campaign.window()}")
    if campaign.segments:
        parts.append(f"segments {', '.join(campaign.segments)}")
    if campaign.max_share is not None:
        parts.append(f"max_share {campaign.max_share:g}")
    return "campaign: " + "; ".join(parts)


def _when(raw: dict[str, Any], key: str, where: str) -> datetime | None:
    value = raw.get(key)
    if value is None:
        return None
    hint = f"write it with its offset, e.g. {key} = {EXAMPLE_TIME} (China Standard Time)"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise TemplateError(f"{where}: '{key}' must be a date and time with a time zone; got {raw[key]!r}",
                                hint=hint) from None
    if isinstance(value, date) and not isinstance(value, datetime):
        raise TemplateError(f"{where}: '{key}' must be a date and time with a time zone; got the date {value} "
                            "without a time or zone", hint=hint)
    if not isinstance(value, datetime):
        raise TemplateError(f"{where}: '{key}' must be a date and time with a time zone; got {value!r}", hint=hint)
    if value.tzinfo is None or value.utcoffset() is None:
        raise TemplateError(f"{where}: '{key}' must be a date and time with a time zone; got {value.isoformat()} "
                            "without one", hint=hint)
    return value


def parse_campaign(raw: dict[str, Any], where: str) -> Campaign:
    """The campaign keys of a parsed template.toml (``where`` names the file); a missing key
    takes its default, so a template without any of them is live for everybody, always."""
    status = raw.get("status", "live")
    if status not in STATUSES:
        close = difflib.get_close_matches(str(status), STATUSES, n=1)
        raise TemplateError(f"{where}: 'status' must be one of 'draft', 'live', 'paused'; got {status!r}",
                            hint=f"did you mean '{close[0]}'?" if close else "a new template starts as \"draft\"")
    start, end = _when(raw, "start", where), _when(raw, "end", where)
    if start is not None and end is not None and end <= start:
        raise TemplateError(f"{where}: 'end' must be after 'start'; got end {end.isoformat()} <= start "
                            f"{start.isoformat()}", hint="swap them, or check the month and the time zone")
    segments = raw.get("segments", [])
    if isinstance(segments, str):
        segments = [segments]
    if not isinstance(segments, list) or not all(isinstance(s, str) and s for s in segments):
        raise TemplateError(f"{where}: 'segments' must be a list of segment names; got {raw['segments']!r}",
                            hint='e.g. segments = ["new-customers"] (scoring/segments.toml)')
    share = raw.get("max_share")
    if share is not None and (isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 1):
        raise TemplateError(f"{where}: 'max_share' must be a number within 0..1 (above 0); got {share!r}",
                            hint="0.3 lets at most 30% of users get the template")
    return Campaign(str(status), start, end, tuple(dict.fromkeys(segments)),
                    None if share is None else float(share))


def unknown_segments(campaign: Campaign, known: list[str]) -> list[tuple[str, str]]:
    """(segment, hint) for each segment of ``campaign`` that ``known`` lacks."""
    out = []
    for name in campaign.segments:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            out.append((name, f"did you mean '{close[0]}'?" if close else
                        f"define it in scoring/segments.toml; known: {', '.join(known)}"))
    return out


def share_salt(template_id: str) -> str:
    """The salt of a template's ``max_share`` draw: 16 characters, different per template, so
    two capped templates let in different users."""
    return hashlib.blake2b(template_id.encode(), digest_size=8).hexdigest()


# -- editing template.toml in place -----------------------------------------------------------
_TOP_KEY = re.compile(r"^(?P<key>[A-Za-z0-9_-]+)\s*=")
_TABLE = re.compile(r"^\s*\[")


def _top_level_lines(text: str) -> list[str]:
    """The lines before the first [table] header: where the top-level keys of a TOML file live."""
    lines = text.splitlines(keepends=True)
    for n, line in enumerate(lines):
        if _TABLE.match(line):
            return lines[:n]
    return lines


def _value_extent(lines: list[str], n: int) -> int:
    """The index after the last line of the value assigned on line ``n`` (a multi-line array
    continues until its brackets balance)."""
    depth, m = 0, n
    while m < len(lines):
        code = re.sub(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'|#.*', "", lines[m])
        depth += code.count("[") - code.count("]")
        m += 1
        if depth <= 0:
            break
    return m


def without_campaign_keys(text: str) -> str:
    """``text`` of a template.toml without the lines that set campaign keys: what the variant id
    hashes, so publishing or pausing a template keeps its banners' ids (and their feedback)."""
    top = _top_level_lines(text)
    lines = text.splitlines(keepends=True)
    kept, n = [], 0
    while n < len(lines):
        m = _TOP_KEY.match(lines[n]) if n < len(top) else None
        if m and m.group("key") in KEYS:
            n = _value_extent(lines, n)
            continue
        kept.append(lines[n])
        n += 1
    return "".join(kept)


@lru_cache(maxsize=256)
def _manifest_digest(path: str, mtime_ns: int, size: int) -> str | None:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return hashlib.sha256(without_campaign_keys(text).encode("utf-8")).hexdigest()


def manifest_digest(path: Path) -> str | None:
    """sha256 of template.toml without its campaign keys (None when unreadable)."""
    try:
        st = path.stat()
    except OSError:
        return None
    return _manifest_digest(str(path), st.st_mtime_ns, st.st_size)


def set_status(manifest: Path, status: str) -> str:
    """Write ``status = "<status>"`` into ``manifest`` (a template.toml) in place, atomically,
    keeping every comment and other line; returns the previous status ("live" when unset)."""
    if status not in STATUSES:
        raise TemplateError(f"status must be one of {', '.join(STATUSES)}; got {status!r}")
    text = manifest.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    top = len(_top_level_lines(text))
    line = f'status = "{status}"\n'
    previous = "live"
    for n in range(top):
        m = _TOP_KEY.match(lines[n])
        if m and m.group("key") == "status":
            old = re.match(r'^status\s*=\s*"([^"]*)"\s*(#.*)?$', lines[n].rstrip("\n"))
            previous = old.group(1) if old else previous
            comment = f"  {old.group(2)}" if old and old.group(2) else ""
            lines[n] = f'status = "{status}"{comment}\n'
            break
    else:
        after = next((n + 1 for n in range(top) if (m := _TOP_KEY.match(lines[n])) and m.group("key") == "version"),
                     top)
        if after and not lines[after - 1].endswith("\n"):
            lines[after - 1] += "\n"
        lines.insert(after, line)
    atomic_write(manifest, "".join(lines).encode("utf-8"))
    return previous


def campaign_states(templates_dir: Path, now: datetime) -> dict[str, str]:
    """{folder name: ``Campaign.state(now)``} of every template folder (a template.toml that does
    not read: "unreadable"). It changes when a window opens or closes, with no file changed."""
    import tomllib

    states = {}
    for manifest in sorted(Path(templates_dir).glob("*/template.toml")):
        try:
            raw = tomllib.loads(manifest.read_text(encoding="utf-8"))
            states[manifest.parent.name] = parse_campaign(raw, str(manifest)).state(now)
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, TemplateError):
            states[manifest.parent.name] = "unreadable"
    return states


def now_utc() -> datetime:
    """The instant campaign windows are compared with."""
    return datetime.now(UTC)
