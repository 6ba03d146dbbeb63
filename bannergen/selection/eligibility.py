"""Which templates each user may get now: the campaign settings of template.toml (status, window,
segments, max_share; bannergen.templating.campaign) applied per user, vectorized over users.

A template that is not live now (draft, paused, before its start, after its end) is kept out for
everybody; a live one with ``segments`` only for their members; one with ``max_share`` only for
the share of users a keyed hash of (template, user id) lets in, so batch, serve and explain let in
the same users. Candidates are built per distinct row of the access matrix (a handful: one per
combination of segments and shares), each from the model restricted to those templates
(``restricted_model``), so a template nobody may get never shapes anybody's candidates.

    >>> access = template_access(model, rows, segments, now)  # doctest: +SKIP
    >>> access.shape  # (len(rows), len(model.templates))  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from bannergen.segments import ALL, Segment, segment_mask
from bannergen.selection.candidates import TemplateChoice
from bannergen.selection.carousel import CarouselIndex
from bannergen.templating.campaign import Campaign, now_utc, share_salt, unknown_segments

if TYPE_CHECKING:
    from bannergen.model import Model

log = logging.getLogger(__name__)


def hashed_share(user_ids: np.ndarray | pd.Index, share: float, salt: str) -> np.ndarray:
    """bool (n,): True for the users a keyed hash puts in ``share`` of all users. The same id,
    share and salt always give the same answer; raising ``share`` only adds users (a keyed-hash
    uniform is compared to the share)."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share must be within 0..1; got {share}")
    key = salt.encode()[:16].ljust(16, b"0").decode("latin-1")  # pd.util.hash_array wants 16 characters
    hashed = pd.util.hash_array(np.asarray(user_ids, dtype=object), hash_key=key, categorize=False)
    return (hashed >> np.uint64(11)).astype(np.float64) / float(1 << 53) < share


def _members(model: Model, segments: dict[str, Segment], names: tuple[str, ...], rows: np.ndarray,
             template_id: str) -> np.ndarray:
    """bool (len(rows),): members of any of ``names``; a segment that is not defined holds nobody
    (and is named in a warning: `templates validate` rejects it)."""
    inside = np.zeros(len(rows), dtype=bool)
    for name in names:
        if name == ALL:
            return np.ones(len(rows), dtype=bool)
        if name not in segments:
            log.warning("template %s: segment '%s' is not defined in scoring/segments.toml; nobody gets it",
                        template_id, name)
            continue
        inside |= segment_mask(segments[name], model.summary)[rows]
    return inside


def template_access(model: Model, rows: np.ndarray, segments: dict[str, Segment],
                    now: datetime | None = None) -> np.ndarray:
    """bool (len(rows), n_templates): which templates each user at profile ``rows`` may get at ``now``."""
    now = now or now_utc()
    rows = np.asarray(rows, dtype=np.int64)
    access = np.ones((len(rows), len(model.templates)), dtype=bool)
    user_ids = np.asarray(model.profiles.user_ids[rows], dtype=object) if len(rows) else np.zeros(0, dtype=object)
    for k, template in enumerate(model.templates):  # a handful of templates; vectorized over users
        campaign: Campaign = template.campaign
        if campaign.state(now) != "live":
            access[:, k] = False
            continue
        if campaign.segments:
            access[:, k] &= _members(model, segments, campaign.segments, rows, template.id)
        if campaign.max_share is not None:
            access[:, k] &= hashed_share(user_ids, campaign.max_share, share_salt(template.id))
    return access


# Restricted models of the current process, by (id(model), access row): a serve process asks for
# the same few again and again. A weak reference makes sure the id still names the same model.
_RESTRICTED: dict[tuple[int, bytes], tuple[weakref.ref, Model]] = {}


def restricted_model(model: Model, allowed: np.ndarray) -> Model:
    """``model`` with only the templates ``allowed`` (bool (n_templates,)) in its template choice,
    its carousels and its cross-sell; ``model`` itself when it already has exactly those."""
    allowed = np.asarray(allowed, dtype=bool)
    current = model.template_allowed
    if (current is None and allowed.all()) or (current is not None and np.array_equal(current, allowed)):
        return model
    key = (id(model), allowed.tobytes())
    cached = _RESTRICTED.get(key)
    if cached is not None and cached[0]() is model:
        return cached[1]
    templates = model.templates
    suits = np.stack([t.suits(model.catalog) & ok for t, ok in zip(templates, allowed)], axis=1) if templates else (
        np.zeros((len(model.catalog), 0), dtype=bool))
    choice = TemplateChoice.build(suits, [t.priority for t in templates])
    carousel = CarouselIndex.build(model.catalog, templates, model.features.codes["category"],
                                   model.campaign_rules.allowed, model.profiles.popularity, choice.bonus,
                                   usable=allowed)
    restricted = replace(model, template_choice=choice, carousel=carousel, template_allowed=allowed)
    for dead in [k for k, (ref, _) in _RESTRICTED.items() if ref() is None]:  # models gone (serve's per-event ones)
        _RESTRICTED.pop(dead, None)
    if len(_RESTRICTED) > 64:
        _RESTRICTED.clear()
    _RESTRICTED[key] = (weakref.ref(model), restricted)
    return restricted


@dataclass(frozen=True)
class Verdict:
    """Whether one template may go to one user now, and the campaign setting that decided it."""

    template_id: str
    allowed: bool
    setting: str  # "segments new-customers: a member", "draft: only previews show it", ...

    def __str__(self) -> str:
        return f"{self.template_id}: {'in' if self.allowed else 'kept out'} ({self.setting})"


def verdicts(model: Model, row: int, segments: dict[str, Segment], now: datetime | None = None) -> list[Verdict]:
    """For every template with campaign settings, whether the user at profile ``row`` may get it
    now and which setting let it in or kept it out (templates without settings are left out:
    live for everybody, always)."""
    now = now or now_utc()
    rows = np.asarray([row], dtype=np.int64)
    user_id = str(model.profiles.user_ids[row])
    out = []
    for template in model.templates:
        campaign: Campaign = template.campaign
        if campaign.is_default:
            continue
        state = campaign.state(now)
        window = campaign.window()
        if state in ("draft", "paused"):
            out.append(Verdict(template.id, False, f"status {state}: "
                               + ("only previews show it" if state == "draft" else "nobody gets it until published")))
            continue
        if state == "scheduled":
            out.append(Verdict(template.id, False, f"start {campaign.start}: not open yet ({window})"))
            continue
        if state == "ended":
            out.append(Verdict(template.id, False, f"end {campaign.end}: ended ({window})"))
            continue
        reasons = [f"live {window}" if window else "live"]
        if campaign.segments:
            missing = [name for name, _ in unknown_segments(campaign, list(segments))]
            member = [name for name in campaign.segments if name not in missing
                      and _members(model, segments, (name,), rows, template.id)[0]]
            if not member:
                what = f"not a member of {', '.join(campaign.segments)}"
                if missing:
                    what += f" ({', '.join(missing)} not defined)"
                out.append(Verdict(template.id, False, f"segments {', '.join(campaign.segments)}: {what}"))
                continue
            reasons.append(f"segments {', '.join(campaign.segments)}: a member of {', '.join(member)}")
        if campaign.max_share is not None:
            share = f"max_share {campaign.max_share:g}"
            if not hashed_share(np.asarray([user_id], dtype=object), campaign.max_share, share_salt(template.id))[0]:
                out.append(Verdict(template.id, False, f"{share}: outside the {campaign.max_share:.0%} of users "
                                                       "let in"))
                continue
            reasons.append(f"{share}: inside the {campaign.max_share:.0%} of users let in")
        out.append(Verdict(template.id, True, "; ".join(reasons)))
    return out
