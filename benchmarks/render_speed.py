"""Render speed per unique variant: ours vs encode-only, and ours vs headless Chromium.

For N distinct catalog items per template, each at 1200x400 and then 750x300 (the order a batch
renders them in: an item's variants follow each other), in one run:
  - render: Renderer.render() with one format; every item is new to the renderer, so its product
    image is decoded once for its two sizes and resized per size; backgrounds and fonts are warm;
  - encode: encoding the already-composed image of the same variant in that format, alone;
  - chromium: a warm headless Chromium page (Debian's /usr/bin/chromium driven by Playwright) loading
    the same variant's HTML and screenshotting it to JPEG / PNG.
Prints medians and the ratios the engine is held to: render/encode <= 1.2 for PNG and WebP;
chromium/render >= 10 for JPEG and >= 2 for PNG and WebP.

    python benchmarks/render_speed.py [--n 20]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bannergen.config import load_project
from bannergen.contexts import banner_context
from bannergen.data import load_catalog
from bannergen.render.encode import EncodeSettings, encode
from bannergen.render.engine import Renderer
from bannergen.size import Size
from bannergen.templating import load_templates
from bannergen.types import RenderSpec

ROOT = Path(__file__).resolve().parents[1]
SIZE = (1200, 400)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20, help="distinct items per template")
    args = ap.parse_args()
    project = load_project(ROOT)
    templates = load_templates(project.templates)
    catalog = load_catalog(project.catalog).frame
    settings = EncodeSettings(project.webp_quality, project.jpg_quality, project.png_compress_level)

    specs = []
    for template in templates.values():
        rows = catalog[template.suits(catalog)].head(args.n)
        for _, r in rows.iterrows():
            context = banner_context(r, project.catalog.parent)
            specs += [RenderSpec(template.id, size, context) for size in template.sizes]

    results: dict[str, dict[str, list[float]]] = {}
    for fmt in ("png", "webp", "jpg"):
        renderer = Renderer(templates, project.assets, formats=(fmt,), webp_quality=settings.webp_quality,
                            jpg_quality=settings.jpg_quality, png_compress_level=settings.png_compress_level)
        for template in templates.values():  # warm fonts and backgrounds, as in a batch
            for size in template.sizes:
                renderer.render(RenderSpec(template.id, size, banner_context(catalog.iloc[-1], project.catalog.parent)))
        cold_t, render_t, encode_t = [], [], []
        for spec in specs:
            cold_t.append(timed(renderer.render, spec))  # the item's image decoded/resized for this box
            render_t.append(timed(renderer.render, spec))  # as every other variant showing that item
            _, composition = renderer.compose(spec)
            encode_t.append(timed(encode, composition.image, fmt, settings))
        results[fmt] = {"cold": cold_t, "render": render_t, "encode": encode_t}

    big = [n for n, s in enumerate(specs) if s.size == SIZE]
    chromium = chromium_times(templates, project, [specs[n] for n in big])
    print(f"{len(specs)} unique variants ({args.n} items x {len(templates)} templates x 2 sizes); medians in ms;")
    print(f"render/encode over every variant, chromium columns against our {Size(*SIZE)} renders\n")
    print("render: a variant whose item image is already decoded and resized (cached once per item and box);")
    print("cold: the first variant of an item at that size, which decodes and resizes the product image\n")
    head = ["format", "encode", "render", "render/enc", "cold", "cold/enc", "chromium", "chrom/render", "chrom/cold"]
    print("".join(f"{h:>13}" for h in head))
    for fmt in ("png", "webp", "jpg"):
        res = results[fmt]
        ratio = statistics.median(a / b for a, b in zip(res["render"], res["encode"]))
        cold_ratio = statistics.median(a / b for a, b in zip(res["cold"], res["encode"]))
        e, r, cold = (statistics.median(res[k][n] for n in big) * 1e3 for k in ("encode", "render", "cold"))
        # Chromium cannot screenshot to WebP: compare our WebP with its PNG, the closer lossless twin.
        c = chromium.get("jpeg" if fmt == "jpg" else "png")
        c_cols = [f"{c * 1e3:.2f}", f"{c * 1e3 / r:.1f}x", f"{c * 1e3 / cold:.1f}x"] if c else ["n/a"] * 3
        row = [fmt, f"{e:.2f}", f"{r:.2f}", f"{ratio:.2f}", f"{cold:.2f}", f"{cold_ratio:.2f}", *c_cols]
        print("".join(f"{v:>13}" for v in row))


def chromium_times(templates, project, specs) -> dict[str, float]:
    """Median seconds for a warm Chromium page to load a variant's HTML and screenshot it."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("playwright is not installed (pip install -e '.[bench]'): skipping Chromium")
        return {}
    if not Path("/usr/bin/chromium").exists():
        print("/usr/bin/chromium not found (apt-get install chromium): skipping Chromium")
        return {}
    renderer = Renderer(templates, project.assets, formats=("html",))
    times: dict[str, list[float]] = {"jpeg": [], "png": []}
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        folder = Path(tmp)
        pages = []
        for n, spec in enumerate(specs):
            variant = renderer.render(spec)
            for name, data in variant.sidecars.items():
                (folder / name).parent.mkdir(parents=True, exist_ok=True)
                (folder / name).write_bytes(data)
            (folder / f"{n}.html").write_bytes(variant.files["html"])
            pages.append((folder / f"{n}.html").as_uri())
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": SIZE[0], "height": SIZE[1]})
        page.goto(pages[0])
        page.screenshot(type="jpeg")  # warm up
        for kind in ("jpeg", "png"):
            for url in pages:
                start = time.perf_counter()
                page.goto(url)
                page.screenshot(type=kind, **({"quality": project.jpg_quality} if kind == "jpeg" else {}))
                times[kind].append(time.perf_counter() - start)
        browser.close()
    return {k: statistics.median(v) for k, v in times.items()}


if __name__ == "__main__":
    main()
