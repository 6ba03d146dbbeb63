"""Generate the example shop: a catalog, product images and behaviour events.

    python examples/generate_shop.py                      # the committed shop in examples/shop
    python examples/generate_shop.py --users 100000 --items 10000 --events 5000000 \\
        --images shared --out /tmp/bigshop                # a benchmark-sized shop

Everything comes from one seeded numpy Generator, so the same flags give the same bytes.
Events are drawn with array operations only (sessions -> events by np.repeat), so five
million events take seconds, not minutes.

The first three items and the user ``zhangsan`` reproduce the worked case of the design
article (section 4.3): phone A (苹果, 1000), phone B (三星, 1500), camera C (佳能, 2000);
zhangsan viewed A 3x, B 2x, C 5x (interest 0.3 / 0.2 / 0.5) and searched "手机" and "相机".
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PIL import Image

END = np.datetime64("2026-11-28T23:59:59", "s")  # the newest moment of the dataset (UTC)
SHOP_URL = "https://shop.example.com/item/"
FIRST_ITEM = 101  # item ids are 6-digit zero-padded strings from "000101" on
IMAGE_SIZE = 480
JPEG_QUALITY = 85


# ---------------------------------------------------------------------------------------------
# The catalog vocabulary
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Category:
    name: str  # the Chinese category name stored in the catalog
    shape: str  # which illustration draw_product() uses
    lines: tuple[tuple[str, str, str, float], ...]  # (brand, model, noun, base price CNY)
    variants: tuple[str, ...]  # appended to titles: storage, size, colour, weight ...
    step: float  # how much each variant step adds to the price (share of base)
    modifiers: tuple[str, ...]  # words shoppers add to a category search, e.g. "耳机 降噪"


CATEGORIES: tuple[Category, ...] = (
    Category("手机", "phone", (
        ("苹果", "iPhone 15", "手机", 5999), ("苹果", "iPhone 15 Pro Max", "手机", 9999),
        ("三星", "Galaxy S24", "手机", 5499), ("三星", "Galaxy Z Flip5", "折叠屏手机", 7499),
        ("华为", "Mate 60 Pro", "手机", 6999), ("华为", "nova 12", "手机", 2999),
        ("小米", "Xiaomi 14", "手机", 3999), ("小米", "Redmi Note 13 Pro 5G", "手机", 1499),
        ("OPPO", "Find X7", "手机", 3999), ("vivo", "X100", "手机", 3999),
        ("vivo", "iQOO 12", "游戏手机", 3999),
    ), ("8GB+256GB", "12GB+256GB", "12GB+512GB", "16GB+1TB"), 0.12, ("5G", "拍照", "大屏", "续航")),
    Category("相机", "camera", (
        ("佳能", "EOS R50", "微单相机", 5499), ("佳能", "EOS R6 Mark II", "全画幅微单相机", 14999),
        ("尼康", "Z30", "微单相机", 4299), ("尼康", "Z5", "全画幅微单相机", 7999),
        ("索尼", "Alpha 7 IV", "全画幅微单相机", 15999), ("索尼", "ZV-E10", "Vlog 相机", 4999),
        ("富士", "X-S20", "微单相机", 8999), ("富士", "X100VI", "数码相机", 11999),
    ), ("单机身", "18-45mm 套机", "18-150mm 套机", "双头套机"), 0.15, ("微单", "入门", "Vlog", "全画幅")),
    Category("笔记本电脑", "laptop", (
        ("苹果", "MacBook Air 13 M3", "笔记本电脑", 8999), ("苹果", "MacBook Pro 14 M3 Pro", "笔记本电脑", 14999),
        ("联想", "ThinkPad X1 Carbon", "商务笔记本", 10999), ("联想", "小新 Pro 14", "轻薄笔记本", 5499),
        ("联想", "拯救者 Y9000P", "游戏本", 9999), ("戴尔", "XPS 13", "轻薄笔记本", 9999),
        ("戴尔", "灵越 14 Plus", "笔记本电脑", 5999), ("华为", "MateBook 14", "笔记本电脑", 5999),
        ("小米", "Redmi Book Pro 15", "笔记本电脑", 4999),
    ), ("16GB+512GB", "16GB+1TB", "32GB+1TB"), 0.14, ("轻薄", "游戏", "办公", "学生")),
    Category("平板电脑", "tablet", (
        ("苹果", "iPad Air 11", "平板电脑", 4799), ("苹果", "iPad Pro 13 M4", "平板电脑", 10999),
        ("华为", "MatePad 11.5", "平板电脑", 2199), ("小米", "Xiaomi Pad 6", "平板电脑", 1999),
        ("联想", "小新 Pad Pro 12.7", "平板电脑", 1999), ("三星", "Galaxy Tab S9", "平板电脑", 5999),
    ), ("WiFi 128GB", "WiFi 256GB", "5G 256GB"), 0.15, ("学习", "绘画", "护眼")),
    Category("耳机", "headphones", (
        ("苹果", "AirPods Pro 2", "主动降噪耳机", 1899), ("索尼", "WH-1000XM5", "头戴式降噪耳机", 2499),
        ("索尼", "WF-1000XM5", "真无线降噪耳机", 1999), ("华为", "FreeBuds Pro 3", "无线耳机", 1499),
        ("小米", "Redmi Buds 5", "真无线耳机", 199), ("Bose", "QuietComfort Ultra", "头戴式耳机", 2999),
        ("漫步者", "W820NB", "头戴式蓝牙耳机", 299),
    ), ("曜石黑", "云母白", "雾霾蓝"), 0.0, ("降噪", "蓝牙", "运动", "头戴")),
    Category("智能手表", "watch", (
        ("苹果", "Apple Watch Series 9", "智能手表", 2999), ("苹果", "Apple Watch Ultra 2", "智能手表", 6499),
        ("华为", "WATCH GT 4", "智能手表", 1488), ("华为", "WATCH 4 Pro", "智能手表", 2999),
        ("小米", "Xiaomi Watch S3", "智能手表", 799), ("三星", "Galaxy Watch6", "智能手表", 1799),
        ("佳明", "Forerunner 265", "跑步手表", 2980),
    ), ("41mm", "45mm", "46mm 蜂窝版"), 0.1, ("运动", "心率", "血氧")),
    Category("电视", "tv", (
        ("小米", "Redmi A", "智能电视", 1999), ("海信", "E8K", "Mini LED 电视", 5999),
        ("TCL", "Q10K", "Mini LED 电视", 6999), ("索尼", "BRAVIA X90L", "4K 电视", 7999),
        ("三星", "Neo QLED QN90C", "4K 电视", 9999), ("创维", "A5F", "智能电视", 2499),
    ), ("55英寸", "65英寸", "75英寸", "85英寸"), 0.35, ("65英寸", "4K", "Mini LED", "游戏")),
    Category("冰箱", "fridge", (
        ("海尔", "BCD-510WGHTD", "十字对开门冰箱", 3999), ("海尔", "BCD-218STPS", "三门冰箱", 1799),
        ("美的", "BCD-508WKPZM", "对开门冰箱", 2999), ("西门子", "KA92NV02TI", "对开门冰箱", 5999),
        ("容声", "BCD-529WD18HPA", "十字门冰箱", 3299),
    ), ("银色", "星空灰", "玻璃面板"), 0.05, ("对开门", "变频", "一级能效")),
    Category("运动鞋", "shoe", (
        ("耐克", "Air Force 1 '07", "男子运动鞋", 799), ("耐克", "Pegasus 40", "跑步鞋", 899),
        ("阿迪达斯", "Ultraboost Light", "跑步鞋", 1499), ("阿迪达斯", "Samba OG", "板鞋", 899),
        ("李宁", "超轻21", "跑步鞋", 599), ("李宁", "韦德之道10", "篮球鞋", 1699),
        ("安踏", "C202 5", "竞速跑鞋", 699), ("特步", "160X 5.0", "马拉松跑鞋", 1099),
    ), ("男款 42码", "女款 37码", "男款 43码", "女款 38码"), 0.0, ("跑步", "篮球", "透气", "男款")),
    Category("美妆", "bottle", (
        ("欧莱雅", "复颜玻尿酸水光充盈精华", "精华液", 339), ("兰蔻", "Génifique 小黑瓶", "精华肌底液", 1080),
        ("雅诗兰黛", "Advanced Night Repair 小棕瓶", "精华", 950), ("资生堂", "Ultimune 红腰子", "精华", 790),
        ("完美日记", "小细跟", "口红", 99),
    ), ("30ml", "50ml", "100ml"), 0.6, ("精华", "保湿", "口红", "套装")),
    Category("零食", "snack", (
        ("三只松鼠", "每日坚果", "坚果礼盒", 99), ("三只松鼠", "夏威夷果", "坚果零食", 39.9),
        ("良品铺子", "高蛋白肉脯", "肉干零食", 45.9), ("良品铺子", "芒果干", "果干零食", 29.9),
        ("百草味", "每日坚果", "混合坚果", 89), ("奥利奥", "Oreo 夹心饼干", "饼干", 24.9),
    ), ("250g", "500g", "750g 礼盒装"), 0.8, ("坚果", "礼盒", "办公室", "年货")),
    Category("图书", "book", (
        ("中信出版", "《原则》Principles", "图书", 98), ("中信出版", "《人类简史》Sapiens", "图书", 68),
        ("人民邮电出版社", "《Python编程：从入门到实践》第3版", "图书", 109.8),
        ("机械工业出版社", "《深入理解计算机系统》CS:APP 第3版", "图书", 139),
        ("人民文学出版社", "《红楼梦》", "图书", 59.7), ("三联书店", "《乡土中国》", "图书", 38),
    ), ("平装", "精装", "典藏版"), 0.3, ("Python", "小说", "经管", "历史")),
)

# Brand colours for the illustrations (roughly the colours shoppers associate with the brand).
BRAND_COLOURS: dict[str, tuple[int, int, int]] = {
    "苹果": (90, 94, 102), "三星": (20, 40, 160), "华为": (200, 16, 46), "小米": (255, 105, 0),
    "OPPO": (0, 128, 96), "vivo": (65, 90, 235), "佳能": (204, 0, 0), "尼康": (230, 180, 0),
    "索尼": (30, 30, 30), "富士": (0, 150, 90), "联想": (226, 35, 26), "戴尔": (0, 118, 206),
    "Bose": (40, 40, 40), "漫步者": (70, 70, 160), "佳明": (0, 124, 195), "海信": (0, 160, 150),
    "TCL": (220, 0, 40), "创维": (0, 90, 170), "海尔": (0, 92, 170), "美的": (0, 112, 192),
    "西门子": (0, 153, 153), "容声": (140, 140, 150), "耐克": (240, 90, 30), "阿迪达斯": (30, 30, 30),
    "李宁": (190, 0, 30), "安踏": (215, 25, 32), "特步": (230, 0, 18), "欧莱雅": (180, 140, 70),
    "兰蔻": (30, 30, 30), "雅诗兰黛": (120, 70, 30), "资生堂": (200, 20, 40), "完美日记": (210, 40, 90),
    "三只松鼠": (170, 110, 50), "良品铺子": (220, 60, 30), "百草味": (230, 120, 0), "奥利奥": (20, 60, 150),
    "中信出版": (180, 30, 40), "人民邮电出版社": (30, 90, 160), "机械工业出版社": (40, 120, 60),
    "人民文学出版社": (150, 40, 40), "三联书店": (60, 60, 60),
}

LONG_TITLE_TAIL = (
    " 【官方旗舰店 正品行货】全国联保 12期免息 以旧换新 顺丰包邮 "
    "官方标配 赠品随机 限时秒杀 新老客户同享 Limited Edition"
)

# The worked case of the design article, section 4.3. Prices and brands are the article's.
DEMO_ITEMS: tuple[dict[str, str], ...] = (
    {"title": "苹果 iPhone SE 手机 64GB 星光色 (演示机 A)", "brand": "苹果", "category": "手机",
     "price": "1000.00", "list_price": "1299.00", "stock": "35"},
    {"title": "三星 Galaxy A35 5G 手机 8GB+128GB (演示机 B)", "brand": "三星", "category": "手机",
     "price": "1500.00", "list_price": "1799.00", "stock": "42"},
    {"title": "佳能 EOS R100 微单相机 18-45mm 套机 新品上市 (C)", "brand": "佳能", "category": "相机",
     "price": "2000.00", "list_price": "", "stock": "60"},
)
DEMO_USER = "zhangsan"
# zhangsan's whole history on the last evening: (UTC time, event, demo item index or None, query).
# 3 / 2 / 5 views give interest weights 0.3 / 0.2 / 0.5; all within the hour before END.
DEMO_EVENTS: tuple[tuple[str, str, int | None, str], ...] = (
    ("2026-11-28T23:05:00", "search", None, "手机"),
    ("2026-11-28T23:05:30", "view", 0, ""), ("2026-11-28T23:06:40", "view", 1, ""),
    ("2026-11-28T23:08:00", "view", 0, ""), ("2026-11-28T23:09:10", "view", 1, ""),
    ("2026-11-28T23:10:10", "view", 0, ""),
    ("2026-11-28T23:20:00", "search", None, "相机"),
    ("2026-11-28T23:20:30", "view", 2, ""), ("2026-11-28T23:21:40", "view", 2, ""),
    ("2026-11-28T23:23:10", "view", 2, ""), ("2026-11-28T23:25:00", "view", 2, ""),
    ("2026-11-28T23:27:00", "view", 2, ""),
)

CATALOG_COLUMNS = ("item_id", "title", "brand", "category", "price", "list_price", "stock", "image", "url",
                   "launched")
# Launch dates, for the templates' 新品 claims: the demo camera (its title says 新品上市) went on
# sale four weeks before END; of the other gadgets every seventh has a date spread over the last
# 180 days (so about half of those are new for a 90-day [claims] new_days), the rest have none.
DEMO_LAUNCHED = "2026-10-31"
GADGETS = ("相机", "手机", "笔记本电脑", "平板电脑", "耳机", "智能手表")


def launched(item_id: str, category: str) -> str:
    """The launch date of an item ("" for most): a fixed rule of the id, so adding the column
    draws nothing from the generator's random stream and every other value stays as it was."""
    number = int(item_id)
    if category not in GADGETS or number % 7:
        return ""
    day = END.astype("datetime64[D]") - np.timedelta64(number * 37 % 180, "D")
    return str(day)


# ---------------------------------------------------------------------------------------------
# Catalog
# ---------------------------------------------------------------------------------------------


def _nice_price(value: float) -> float:
    """Shop-style prices: 4999 rather than 5013.27, 29.9 rather than 31.04."""
    if value >= 1000:
        return float(max(round(value / 100) * 100 - 1, 99))
    if value >= 100:
        return float(max(round(value / 10) * 10 - 1, 9))
    return max(round(value) - 0.1, 0.9)


def make_catalog(rng: np.random.Generator, n_items: int, shared_images: bool) -> list[dict[str, str]]:
    """Rows of catalog.csv as strings, the three demo items first."""
    rows: list[dict[str, str]] = []
    for i, demo in enumerate(DEMO_ITEMS[: min(n_items, len(DEMO_ITEMS))]):
        rows.append({"item_id": f"{FIRST_ITEM + i:06d}", **demo})
    # Category sizes roughly like a general store: more phones and snacks than fridges.
    cat_share = np.array([14, 8, 9, 6, 10, 7, 6, 5, 11, 9, 8, 7], dtype=float)
    cat_share /= cat_share.sum()
    for i in range(len(rows), n_items):
        cat = CATEGORIES[rng.choice(len(CATEGORIES), p=cat_share)]
        brand, model, noun, base = cat.lines[rng.integers(len(cat.lines))]
        v = int(rng.integers(len(cat.variants)))
        title = f"{brand} {model} {noun} {cat.variants[v]}"
        if rng.random() < 0.03:  # marketplaces are full of keyword-stuffed titles
            title += LONG_TITLE_TAIL
        price = _nice_price(base * (1 + cat.step * v) * rng.uniform(0.85, 1.1))
        list_price = ""
        if rng.random() < 0.4:
            list_price = f"{_nice_price(price / (1 - rng.uniform(0.08, 0.3))):.2f}"
            if float(list_price) <= price:
                list_price = ""
        stock = 0 if rng.random() < 0.07 else int(rng.lognormal(3.5, 1.0)) + 1
        rows.append({
            "item_id": f"{FIRST_ITEM + i:06d}", "title": title, "brand": brand, "category": cat.name,
            "price": f"{price:.2f}", "list_price": list_price, "stock": str(stock),
        })
    shape_of = {c.name: c.shape for c in CATEGORIES}
    for row in rows:
        row["image"] = f"images/{shape_of[row['category']]}.jpg" if shared_images else f"images/{row['item_id']}.jpg"
        row["url"] = SHOP_URL + row["item_id"]
        row["launched"] = launched(row["item_id"], row["category"])
    if len(rows) > 2:
        rows[2]["launched"] = DEMO_LAUNCHED
    return rows


def write_catalog(rows: list[dict[str, str]], path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CATALOG_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


# ---------------------------------------------------------------------------------------------
# Product images
# ---------------------------------------------------------------------------------------------


def _mix(c: tuple[int, int, int], other: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    return tuple(int(a + (b - a) * t) for a, b in zip(c, other))  # type: ignore[return-value]


def draw_product(shape: str, colour: tuple[int, int, int], variant: int = 0) -> Image.Image:
    """A flat product illustration: the category's shape in the brand colour on a light ground.

    Drawn at twice the size and downsampled, which gives smooth edges without an AA renderer.
    """
    from PIL import Image, ImageDraw

    s = 2 * IMAGE_SIZE
    white, dark = (255, 255, 255), (34, 36, 40)
    ground = _mix(colour, white, 0.93)
    body = _mix(colour, white, 0.12 * (variant % 3))
    light, deep = _mix(body, white, 0.45), _mix(body, dark, 0.45)
    img = Image.new("RGB", (s, s), ground)
    d = ImageDraw.Draw(img)
    d.ellipse((s * 0.2, s * 0.83, s * 0.8, s * 0.9), fill=_mix(ground, dark, 0.12))  # floor shadow

    def r(x0: float, y0: float, x1: float, y1: float) -> tuple[float, float, float, float]:
        return (x0 * s, y0 * s, x1 * s, y1 * s)

    if shape == "phone":
        d.rounded_rectangle(r(0.33, 0.12, 0.67, 0.86), radius=s * 0.06, fill=body)
        d.rounded_rectangle(r(0.355, 0.16, 0.645, 0.82), radius=s * 0.04, fill=dark)
        d.rounded_rectangle(r(0.37, 0.2, 0.63, 0.5), radius=s * 0.02, fill=light)
        d.rounded_rectangle(r(0.45, 0.175, 0.55, 0.195), radius=s * 0.01, fill=body)
        d.rectangle(r(0.67, 0.3, 0.68, 0.4), fill=deep)
    elif shape == "tablet":
        d.rounded_rectangle(r(0.16, 0.2, 0.84, 0.82), radius=s * 0.05, fill=body)
        d.rounded_rectangle(r(0.19, 0.24, 0.81, 0.78), radius=s * 0.03, fill=dark)
        d.polygon([(s * 0.19, s * 0.78), (s * 0.81, s * 0.24), (s * 0.81, s * 0.5)], fill=_mix(dark, white, 0.12))
    elif shape == "laptop":
        d.rounded_rectangle(r(0.2, 0.22, 0.8, 0.66), radius=s * 0.025, fill=body)
        d.rectangle(r(0.225, 0.25, 0.775, 0.63), fill=dark)
        d.rectangle(r(0.25, 0.28, 0.55, 0.42), fill=light)
        d.polygon([(s * 0.14, s * 0.72), (s * 0.2, s * 0.66), (s * 0.8, s * 0.66), (s * 0.86, s * 0.72)], fill=deep)
        d.rectangle(r(0.14, 0.72, 0.86, 0.745), fill=body)
    elif shape == "camera":
        d.rounded_rectangle(r(0.4, 0.22, 0.62, 0.34), radius=s * 0.02, fill=deep)
        d.rounded_rectangle(r(0.16, 0.3, 0.84, 0.76), radius=s * 0.05, fill=body)
        d.rectangle(r(0.16, 0.42, 0.84, 0.66), fill=deep)
        d.ellipse(r(0.33, 0.34, 0.67, 0.72), fill=dark)
        d.ellipse(r(0.38, 0.39, 0.62, 0.67), fill=_mix(dark, colour, 0.3))
        d.ellipse(r(0.44, 0.45, 0.52, 0.53), fill=light)
        d.rounded_rectangle(r(0.7, 0.25, 0.78, 0.3), radius=s * 0.01, fill=dark)
    elif shape == "headphones":
        d.arc(r(0.22, 0.16, 0.78, 0.78), start=190, end=350, fill=body, width=int(s * 0.05))
        for x0 in (0.16, 0.68):
            d.rounded_rectangle(r(x0, 0.46, x0 + 0.16, 0.76), radius=s * 0.06, fill=body)
            d.rounded_rectangle(r(x0 + 0.03, 0.5, x0 + 0.13, 0.72), radius=s * 0.04, fill=deep)
    elif shape == "watch":
        d.rounded_rectangle(r(0.4, 0.1, 0.6, 0.88), radius=s * 0.04, fill=deep)
        d.rounded_rectangle(r(0.3, 0.3, 0.7, 0.7), radius=s * 0.09, fill=body)
        d.rounded_rectangle(r(0.33, 0.33, 0.67, 0.67), radius=s * 0.07, fill=dark)
        d.arc(r(0.38, 0.38, 0.62, 0.62), start=-90, end=180, fill=light, width=int(s * 0.025))
        d.rectangle(r(0.7, 0.44, 0.725, 0.52), fill=deep)
    elif shape == "tv":
        d.rectangle(r(0.08, 0.2, 0.92, 0.68), fill=body)
        d.rectangle(r(0.1, 0.22, 0.9, 0.66), fill=dark)
        d.polygon(
            [(s * 0.1, s * 0.66), (s * 0.55, s * 0.22), (s * 0.9, s * 0.22), (s * 0.9, s * 0.3), (s * 0.3, s * 0.66)],
            fill=_mix(dark, colour, 0.25),
        )
        d.rectangle(r(0.47, 0.68, 0.53, 0.78), fill=deep)
        d.rounded_rectangle(r(0.3, 0.78, 0.7, 0.81), radius=s * 0.01, fill=deep)
    elif shape == "fridge":
        d.rounded_rectangle(r(0.3, 0.1, 0.7, 0.86), radius=s * 0.03, fill=body)
        d.line([(s * 0.3, s * 0.4), (s * 0.7, s * 0.4)], fill=deep, width=int(s * 0.01))
        d.line([(s * 0.5, s * 0.4), (s * 0.5, s * 0.86)], fill=deep, width=int(s * 0.008))
        for x0 in (0.45, 0.53):
            d.rounded_rectangle(r(x0, 0.46, x0 + 0.02, 0.6), radius=s * 0.01, fill=light)
        d.rounded_rectangle(r(0.36, 0.2, 0.6, 0.24), radius=s * 0.01, fill=light)
    elif shape == "shoe":
        d.polygon([(s * 0.12, s * 0.66), (s * 0.16, s * 0.48), (s * 0.3, s * 0.44), (s * 0.4, s * 0.3),
                   (s * 0.55, s * 0.3), (s * 0.62, s * 0.48), (s * 0.86, s * 0.56), (s * 0.9, s * 0.66)], fill=body)
        d.rounded_rectangle(r(0.1, 0.64, 0.92, 0.72), radius=s * 0.03, fill=white)
        d.line([(s * 0.3, s * 0.6), (s * 0.5, s * 0.48), (s * 0.7, s * 0.56)], fill=light, width=int(s * 0.03))
        for k in range(3):
            d.line(
                [(s * (0.42 + 0.04 * k), s * 0.36), (s * (0.5 + 0.04 * k), s * 0.4)], fill=white, width=int(s * 0.01)
            )
    elif shape == "bottle":
        d.rounded_rectangle(r(0.42, 0.12, 0.58, 0.3), radius=s * 0.02, fill=dark)
        d.rounded_rectangle(r(0.33, 0.28, 0.67, 0.84), radius=s * 0.06, fill=body)
        d.rounded_rectangle(r(0.37, 0.46, 0.63, 0.7), radius=s * 0.02, fill=light)
        d.rectangle(r(0.4, 0.52, 0.6, 0.54), fill=deep)
        d.rectangle(r(0.43, 0.58, 0.57, 0.6), fill=deep)
    elif shape == "snack":
        d.polygon([(s * 0.26, s * 0.2), (s * 0.74, s * 0.2), (s * 0.78, s * 0.84), (s * 0.22, s * 0.84)], fill=body)
        for k in range(12):
            x = 0.26 + k * 0.04
            d.polygon([(s * x, s * 0.2), (s * (x + 0.02), s * 0.16), (s * (x + 0.04), s * 0.2)], fill=body)
        d.ellipse(r(0.36, 0.38, 0.64, 0.66), fill=light)
        for cx, cy in ((0.45, 0.48), (0.55, 0.5), (0.5, 0.57)):
            d.ellipse(r(cx - 0.04, cy - 0.03, cx + 0.04, cy + 0.03), fill=deep)
    else:  # book
        d.rectangle(r(0.28, 0.14, 0.72, 0.84), fill=body)
        d.rectangle(r(0.28, 0.14, 0.33, 0.84), fill=deep)
        d.rectangle(r(0.72, 0.16, 0.74, 0.84), fill=_mix(ground, dark, 0.1))
        d.rectangle(r(0.4, 0.3, 0.64, 0.34), fill=white)
        d.rectangle(r(0.4, 0.38, 0.6, 0.4), fill=light)
        d.rectangle(r(0.4, 0.7, 0.56, 0.72), fill=light)
    return img.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.LANCZOS)


def write_images(rows: list[dict[str, str]], folder: Path, shared: bool) -> int:
    """Write one image per item (or per category when shared); return the bytes written.

    Stale .jpg files from an earlier run with other flags are removed so the folder holds
    exactly what the catalog names.
    """
    folder.mkdir(parents=True, exist_ok=True)
    shape_of = {c.name: c.shape for c in CATEGORIES}
    wanted: dict[str, tuple[str, tuple[int, int, int], int]] = {}
    for row in rows:
        name = Path(row["image"]).name
        if shared:
            wanted[name] = (shape_of[row["category"]], (70, 110, 190), 0)
        else:
            wanted[name] = (shape_of[row["category"]], BRAND_COLOURS[row["brand"]], int(row["item_id"]))
    for old in folder.glob("*.jpg"):
        if old.name not in wanted:
            old.unlink()
    total = 0
    for name, (shape, colour, variant) in wanted.items():
        target = folder / name
        draw_product(shape, colour, variant).save(target, "JPEG", quality=JPEG_QUALITY, optimize=True)
        total += target.stat().st_size
    return total


# ---------------------------------------------------------------------------------------------
# Events
# ---------------------------------------------------------------------------------------------


def _sample_within_groups(
    rng: np.random.Generator, groups: np.ndarray, members: dict[int, np.ndarray], weights: dict[int, np.ndarray]
) -> np.ndarray:
    """For each draw, an item from ``members[group]`` with probability ∝ ``weights[group]``.

    Loops over groups (a few hundred), never over draws.
    """
    out = np.empty(len(groups), dtype=np.int64)
    order = np.argsort(groups, kind="stable")
    keys, starts = np.unique(groups[order], return_index=True)
    bounds = np.append(starts, len(groups))
    for key, lo, hi in zip(keys, bounds[:-1], bounds[1:]):
        cum = np.cumsum(weights[int(key)])
        picks = np.searchsorted(cum, rng.random(hi - lo) * cum[-1], side="right")
        out[order[lo:hi]] = members[int(key)][np.minimum(picks, len(cum) - 1)]
    return out


@dataclass(frozen=True)
class Events:
    """Events as integer codes, ready to become Arrow dictionary columns."""

    user: np.ndarray  # index into user_ids
    item: np.ndarray  # item index, -1 for searches
    event: np.ndarray  # index into EVENT_NAMES
    seconds: np.ndarray  # seconds since the window start
    query: np.ndarray  # index into queries, -1 for non-search events
    user_ids: list[str]
    queries: list[str]


EVENT_NAMES = ("view", "search", "cart", "purchase")


def make_events(
    rng: np.random.Generator, rows: list[dict[str, str]], n_users: int, n_events: int, days: int
) -> Events:
    """Sessions of browsing: each session is one user in one category (often one brand),
    opening with a search about a third of the time, then views, some carts, fewer purchases."""
    n_items, n_cat = len(rows), len(CATEGORIES)
    cat_index = {c.name: k for k, c in enumerate(CATEGORIES)}
    brands = sorted({r["brand"] for r in rows} | {b for c in CATEGORIES for b, *_ in c.lines})
    brand_index = {b: k for k, b in enumerate(brands)}
    n_brand = len(brands)
    item_cat = np.array([cat_index[r["category"]] for r in rows])
    item_brand = np.array([brand_index[r["brand"]] for r in rows])

    # Zipf-like popularity: a few hits, a long tail.
    popularity = 1.0 / (rng.permutation(n_items) + 1.0) ** 0.8
    cat_pop = np.bincount(item_cat, weights=popularity, minlength=n_cat) + 1e-9
    cat_pop /= cat_pop.sum()
    # Group keys for _sample_within_groups: c*(n_brand+1) is "any brand in category c",
    # c*(n_brand+1)+b+1 is "brand b in category c".
    stride = n_brand + 1
    members: dict[int, np.ndarray] = {}
    for c in range(n_cat):
        in_cat = np.flatnonzero(item_cat == c)
        if len(in_cat):
            members[c * stride] = in_cat
        for b in np.unique(item_brand[in_cat]):
            members[c * stride + int(b) + 1] = in_cat[item_brand[in_cat] == b]
    weights = {k: popularity[m] for k, m in members.items()}
    present = np.array([c * stride in members for c in range(n_cat)])
    cat_pop = np.where(present, cat_pop, 0)
    cat_pop /= cat_pop.sum()

    # Users: 1-3 favourite categories, 1-3 favourite brands among what those categories sell.
    fav_cats = rng.choice(n_cat, size=(n_users, 3), p=cat_pop)
    n_fav = rng.integers(1, 4, n_users)
    brand_pick = _sample_within_groups(rng, fav_cats.ravel() * stride, members, weights)
    fav_brands = item_brand[brand_pick].reshape(n_users, 3)
    activity = rng.lognormal(0.0, 1.0, n_users)
    activity /= activity.sum()

    # Sessions and their lengths; the last one is cut so the total is exactly n_events.
    mean_len = 7.0
    n_sess = int(n_events / mean_len * 1.3) + 16
    lengths = rng.geometric(1.0 / mean_len, n_sess)
    while lengths.sum() < n_events:
        lengths = np.concatenate([lengths, rng.geometric(1.0 / mean_len, n_sess)])
    cum = np.cumsum(lengths)
    n_sess = int(np.searchsorted(cum, n_events)) + 1
    lengths = lengths[:n_sess].copy()
    lengths[-1] -= cum[n_sess - 1] - n_events

    # Everyone gets at least one session, then the active users get more.
    s_user = rng.choice(n_users, size=n_sess, p=activity)
    first = min(n_users, n_sess)
    s_user[:first] = rng.permutation(n_users)[:first]
    loyal = rng.random(n_sess) < 0.8
    s_cat = np.where(
        loyal, fav_cats[s_user, rng.integers(0, 3, n_sess) % n_fav[s_user]], rng.choice(n_cat, size=n_sess, p=cat_pop)
    )
    s_brand = fav_brands[s_user, rng.integers(0, 3, n_sess) % n_fav[s_user]]
    sells = np.zeros((n_cat, n_brand), dtype=bool)
    sells[item_cat, item_brand] = True
    s_brand = np.where(sells[s_cat, s_brand] & (rng.random(n_sess) < 0.6), s_brand, -1)

    # Session start: a day in the window, an hour weighted toward lunch and evenings.
    hour_w = np.array([3, 2, 1, 1, 1, 1, 2, 4, 6, 7, 8, 9, 11, 10, 8, 8, 8, 9, 10, 12, 14, 15, 13, 7], float)
    s_start = (rng.integers(0, days, n_sess) * 86400 + rng.choice(24, size=n_sess, p=hour_w / hour_w.sum()) * 3600
               + rng.integers(0, 3600, n_sess))

    # Expand sessions to events.
    sess = np.repeat(np.arange(n_sess), lengths)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    pos = np.arange(n_events) - offsets[sess]
    gaps = np.maximum(rng.exponential(40.0, n_events), 3.0).astype(np.int64)
    gaps[pos == 0] = 0
    within = np.cumsum(gaps) - np.cumsum(gaps)[offsets][sess]
    duration = within[offsets + lengths - 1]
    window = days * 86400 - 1
    s_start = np.minimum(s_start, window - duration)  # no session runs past the dataset end
    seconds = s_start[sess] + within

    kind = np.zeros(n_events, dtype=np.int8)  # 0 view, 1 search, 2 cart, 3 purchase
    u = rng.random(n_events)
    s_search = rng.random(n_sess) < 0.35
    kind[(pos == 0) & s_search[sess]] = 1
    later = pos > 0
    kind[later & (u < 0.02)] = 1
    kind[later & (u >= 0.02) & (u < 0.09)] = 2
    kind[(pos > 1) & (u >= 0.09) & (u < 0.12)] = 3

    group = s_cat[sess] * stride + s_brand[sess] + 1
    item = _sample_within_groups(rng, group, members, weights)
    # A cart or purchase is of the item last viewed in the same session; with no earlier view
    # in the session it becomes a view.
    idx = np.arange(n_events)
    last_view = np.maximum.accumulate(np.where(kind == 0, idx, -1))
    buy = kind >= 2
    no_view = buy & (last_view < offsets[sess])
    kind[no_view] = 0
    buy &= ~no_view
    item[buy] = item[last_view[buy]]
    item[kind == 1] = -1

    # Queries name the category, a brand and the category, or the category and a feature.
    queries: list[str] = []
    cat_q = np.empty(n_cat, dtype=np.int64)
    mod_q = np.empty((n_cat, 4), dtype=np.int64)
    brand_q = np.full((n_cat, n_brand), -1, dtype=np.int64)
    for c, cat in enumerate(CATEGORIES):
        cat_q[c] = len(queries)
        queries.append(cat.name)
        for m in range(4):
            mod_q[c, m] = len(queries)
            queries.append(f"{cat.name} {cat.modifiers[m % len(cat.modifiers)]}")
        for b in range(n_brand):
            if sells[c, b]:
                brand_q[c, b] = len(queries)
                queries.append(f"{brands[b]} {cat.name}")
    query = np.full(n_events, -1, dtype=np.int64)
    searches = np.flatnonzero(kind == 1)
    q_cat, q_brand = s_cat[sess[searches]], s_brand[sess[searches]]
    style = rng.random(len(searches))
    chosen = np.where(style < 0.5, cat_q[q_cat], mod_q[q_cat, rng.integers(0, 4, len(searches))])
    with_brand = (q_brand >= 0) & (style >= 0.5) & (style < 0.8)
    chosen[with_brand] = brand_q[q_cat[with_brand], q_brand[with_brand]]
    query[searches] = chosen

    return Events(s_user[sess], item, kind, seconds, query, [f"u{k + 1:06d}" for k in range(n_users)], queries)


def add_demo_user(events: Events, rows: list[dict[str, str]], days: int) -> Events:
    """Append zhangsan's hand-written history (the article's worked case)."""
    if len(rows) < len(DEMO_ITEMS):
        return events
    start = END - np.timedelta64(days * 86400 - 1, "s")
    n = len(DEMO_EVENTS)
    queries = list(events.queries)
    q_index = []
    for _, _, _, q in DEMO_EVENTS:
        if q and q not in queries:
            queries.append(q)
        q_index.append(queries.index(q) if q else -1)
    return Events(
        user=np.concatenate([events.user, np.full(n, len(events.user_ids))]),
        item=np.concatenate([events.item, [-1 if i is None else i for _, _, i, _ in DEMO_EVENTS]]),
        event=np.concatenate([events.event, [EVENT_NAMES.index(e) for _, e, _, _ in DEMO_EVENTS]]).astype(np.int8),
        seconds=np.concatenate(
            [events.seconds, [int((np.datetime64(t, "s") - start) // np.timedelta64(1, "s")) for t, *_ in DEMO_EVENTS]]
        ),
        query=np.concatenate([events.query, q_index]),
        user_ids=[*events.user_ids, DEMO_USER],
        queries=queries,
    )


def write_events(events: Events, rows: list[dict[str, str]], days: int, path: Path) -> None:
    """events.parquet: user_id, item_id, event, ts (ISO 8601 UTC text), query; oldest first."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    order = np.lexsort((np.arange(len(events.seconds)), events.seconds))
    start = END - np.timedelta64(days * 86400 - 1, "s")
    moments = start + events.seconds[order].astype("timedelta64[s]")
    # Text in chunks: a '<U20' array for millions of events would cost 80 bytes per event.
    step = 500_000
    stamps = pa.chunked_array(
        [pa.array(np.datetime_as_string(moments[i : i + step], unit="s", timezone="UTC"), pa.string())
         for i in range(0, len(moments), step)] or [pa.array([], pa.string())]
    )

    def coded(codes: np.ndarray, names: list[str]) -> pa.Array:
        # Codes -1 mean "none" and map to the empty string appended to the dictionary.
        codes = np.where(codes < 0, len(names), codes).astype(np.int32)
        return pa.DictionaryArray.from_arrays(pa.array(codes), pa.array([*names, ""], pa.string())).cast(pa.string())

    table = pa.table({
        "user_id": coded(events.user[order], events.user_ids),
        "item_id": coded(events.item[order], [r["item_id"] for r in rows]),
        "event": coded(events.event[order].astype(np.int64), list(EVENT_NAMES)),
        "ts": stamps,
        "query": coded(events.query[order], events.queries),
    })
    pq.write_table(table, path, compression="zstd")


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------


def generate(out: Path, users: int, items: int, events: int, days: int, seed: int, images: str) -> dict[str, float]:
    """Write catalog.csv, events.parquet and images/ into ``out``; return sizes and timings."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    rows = make_catalog(rng, items, shared_images=images == "shared")
    write_catalog(rows, out / "catalog.csv")
    image_bytes = write_images(rows, out / "images", shared=images == "shared")
    t1 = time.perf_counter()
    ev = add_demo_user(make_events(rng, rows, users, events, days), rows, days)
    write_events(ev, rows, days, out / "events.parquet")
    t2 = time.perf_counter()
    return {"items": len(rows), "events": len(ev.seconds), "image_bytes": image_bytes,
            "catalog_seconds": t1 - t0, "events_seconds": t2 - t1}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=3000, help="shoppers besides zhangsan (default 3000)")
    parser.add_argument("--items", type=int, default=320, help="catalog items (default 320)")
    parser.add_argument("--events", type=int, default=100_000, help="random events besides zhangsan's (default 100000)")
    parser.add_argument("--days", type=int, default=30, help="days of history ending 2026-11-28T23:59:59Z")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "shop", help="output folder")
    parser.add_argument("--images", choices=("per-item", "shared"), default="per-item",
                        help="one image per item, or one per category for big benchmark shops")
    args = parser.parse_args(argv)
    for name in ("users", "items", "events", "days"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    stats = generate(args.out, args.users, args.items, args.events, args.days, args.seed, args.images)
    print(f"{args.out}: {stats['items']} items, {stats['events']} events, "
          f"images {stats['image_bytes'] / 1e6:.2f} MB; catalog+images {stats['catalog_seconds']:.1f}s, "
          f"events {stats['events_seconds']:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
