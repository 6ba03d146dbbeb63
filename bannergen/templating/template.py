"""The Template record: a parsed campaign template folder (templates/<id>/).

Built only by ``bannergen.templating.manifest.load_templates``; immutable afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from jinja2.sandbox import SandboxedEnvironment

from bannergen.size import Size
from bannergen.templating.campaign import Campaign
from bannergen.templating.layout import Layout
from bannergen.templating.sandbox import TextExpression
from bannergen.types import BannerContext

if TYPE_CHECKING:  # pandas stays out of the import path of `bannergen --help`
    import numpy as np
    import pandas as pd

# The default of BannerContext.cta: when the pipeline left it unchanged, the template's own CTA
# wins (so category-launch says "抢先了解" unless the pipeline asks for something specific).
def _default_cta() -> str:
    default = next(f.default for f in fields(BannerContext) if f.name == "cta")
    if not isinstance(default, str):
        raise TypeError(f"BannerContext.cta needs a text default; got {default!r}")
    return default


DEFAULT_CTA = _default_cta()


@dataclass(frozen=True)
class FontSet:
    """Font file names under assets/fonts/; fallbacks are tried, in order, for missing glyphs."""

    regular: str = "NotoSansSC-Regular.otf"
    bold: str = "NotoSansSC-Bold.otf"
    fallbacks: tuple[str, ...] = ()

    def chain(self, style: str) -> tuple[str, ...]:
        return ((self.bold if style == "bold" else self.regular), *self.fallbacks)


@dataclass(frozen=True)
class Template:
    """One campaign template. ``sizes`` are (width, height) pixels of every version it renders:
    the manifest's ``base_sizes`` at each of its ``scales`` (1x first, then 2x: (1200, 400), ...,
    (2400, 800), ...); ``categories`` None means every category; ``priority`` is a score bonus
    added by the selection stage; ``requires_antecedent`` / ``requires_items`` > 1 mean the
    template needs banner context the catalog cannot give (see ``suits``); ``campaign`` says
    whether it is live, when, and for whom (selection applies it per user)."""

    id: str
    version: str
    description: str
    folder: Path
    sizes: tuple[tuple[int, int], ...]
    categories: tuple[str, ...] | None
    requires_discount: bool
    min_discount_pct: int
    requires_antecedent: bool
    priority: float
    requires_items: int = 1
    base_sizes: tuple[tuple[int, int], ...] = ()
    scales: tuple[int, ...] = (1,)
    headline_source: str = ""
    cta: str = DEFAULT_CTA
    slots: tuple[str, ...] = ()
    fonts: FontSet = FontSet()
    colours: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), compare=False)
    formats: tuple[str, ...] | None = None
    campaign: Campaign = Campaign()  # status, window, segments, max_share (bannergen.templating.campaign)
    layouts: Mapping[tuple[int, int], Layout] = field(
        default_factory=lambda: MappingProxyType({}), compare=False, repr=False
    )
    text_env: SandboxedEnvironment | None = field(default=None, compare=False, repr=False)
    html_env: SandboxedEnvironment | None = field(default=None, compare=False, repr=False)
    _headline: TextExpression | None = field(default=None, compare=False, repr=False)

    def variables(self, context: BannerContext, size: tuple[int, int] | None = None) -> dict[str, Any]:
        """The names layout text and conditions see: BannerContext.as_template_vars() with the
        template's CTA applied, plus ``size``/``width``/``height`` when a size is given."""
        names = context.as_template_vars()
        if context.cta == DEFAULT_CTA and self.cta:
            names["cta"] = self.cta
        names["colours"] = dict(self.colours)
        if size is not None:
            names.update(size=str(Size(*size)), width=size[0], height=size[1], scale=self.scale_of(size)[1])
        return names

    def scale_of(self, size: tuple[int, int]) -> tuple[tuple[int, int], int]:
        """(1x size, scale) of one of ``sizes``: ((1200, 400), 2) for (2400, 800)."""
        for k in self.scales:
            for w, h in self.base_sizes or self.sizes:
                if (w * k, h * k) == tuple(size):
                    return (w, h), k
        return (int(size[0]), int(size[1])), 1

    def size_label(self, size: tuple[int, int]) -> str:
        """"1200x400" for a 1x size, "1200x400@2x" for its 2x version (2400x800 pixels)."""
        (w, h), k = self.scale_of(size)
        return str(Size(w, h)) if k == 1 else f"{Size(w, h)}@{k}x"

    @property
    def needs_context(self) -> bool:
        """True when the template needs ``antecedent`` or several ``items``, which a catalog row
        alone does not give: plain (item, template) pairing must not select it."""
        return self.requires_antecedent or self.requires_items > 1

    def headline(self, context: BannerContext) -> str:
        """The headline for ``context``, rendered in the sandbox, e.g. "相机新品上市"."""
        if self._headline is None:
            return ""
        return " ".join(self._headline.render(self.variables(context)).split())

    def suits(self, catalog: pd.DataFrame) -> np.ndarray:
        """Boolean mask, shape (n_items,), of the catalog rows this template can show on their own.

        ``catalog_mask(catalog)``, except that a template that ``needs_context`` (cross-sell,
        carousel) suits no row: a catalog row cannot supply an antecedent or three items, so
        selection that pairs one item with one template never picks it. A stage that does fill
        that context uses ``catalog_mask`` for the items themselves.
        """
        import numpy as np

        if self.needs_context:
            return np.zeros(len(catalog), dtype=bool)
        return self.catalog_mask(catalog)

    def catalog_mask(self, catalog: pd.DataFrame) -> np.ndarray:
        """Boolean mask, shape (n_items,): the rows whose category and discount fit ``[suits]``.

        Vectorized over the catalog frame (see bannergen.types): category in ``categories``
        (unless "*"), and when a discount is required, ``(list_price - price) / list_price``
        of at least ``min_discount_pct`` percent (NaN list_price means no discount).
        """
        import numpy as np

        mask = np.ones(len(catalog), dtype=bool)
        if self.categories is not None:
            mask &= catalog["category"].isin(self.categories).to_numpy(dtype=bool)
        if self.requires_discount or self.min_discount_pct > 0:
            price = catalog["price"].to_numpy(dtype=float)
            list_price = catalog["list_price"].to_numpy(dtype=float)
            with np.errstate(invalid="ignore", divide="ignore"):
                pct = np.where(list_price > price, (list_price - price) / list_price * 100.0, 0.0)
            pct = np.nan_to_num(pct, nan=0.0)
            mask &= pct > 0
            # a tiny epsilon so 5.0% computed as 4.9999999 still passes "min 5"
            mask &= pct + 1e-9 >= self.min_discount_pct
        return mask

    def layout(self, size: tuple[int, int]) -> Layout:
        from bannergen.errors import TemplateError

        try:
            return self.layouts[tuple(size)]  # type: ignore[index]
        except KeyError:
            labels = [str(Size(*s)) for s in self.sizes]
            raise TemplateError(
                f"template '{self.id}': no layout for size {Size(*size)}", hint=f"sizes: {labels}"
            ) from None

    def asset_paths(self) -> tuple[str, ...]:
        """Paths under assets/ this template draws with (fonts first), for digests and checks."""
        fonts = [f"fonts/{name}" for name in (self.fonts.regular, self.fonts.bold, *self.fonts.fallbacks)]
        images = sorted({p for layout in self.layouts.values() for p in layout.asset_paths()})
        return tuple(dict.fromkeys(fonts + images))
