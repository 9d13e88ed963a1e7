"""split: one normalised source item -> its reports, each cleaned, with region, tier and years.

A compilation holds many reports, each opening with a title line ("2023年彬州市政府工作报告").
Items that are not reports (an NPC resolution approving one) are kept with is_report=False.
"""
from __future__ import annotations

import csv
import json
import re
from collections import Counter
from functools import lru_cache
from importlib import resources

from .clean import clean, is_glossary_head, normalize
from .model import Report, SourceItem

_TITLE = re.compile(r"政\s*府\s*工\s*作\s*报\s*告")
_TITLE_STOP = re.compile(r"[,，。;；:：!！?？]")
_DATE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})\s*年?")
_REGION_IN_TITLE = re.compile(
    r"^(?:(?:19|20)\d{2}年)?\s*(?:[(（]([^()（）]{2,10})[)）])?\s*(.{2,24}?)(?:人民)?政府工作报告")
_REGION_AT_CONGRESS = re.compile(r"在(.{2,20}?)第[一二三四五六七八九十\d]{1,4}届人民代表大会")
_REVIEW_HEAD = re.compile(r"((?:19|20)\d{2})年(?:工作)?(?:回顾|总结)")
_PLAN_HEAD = re.compile(r"((?:19|20)\d{2})年(?:工作|主要)?(?:安排|计划|任务|目标|工作思路|重点工作)")
_RESOLUTION = re.compile(r"关于.{0,12}政府工作报告的决议|^.{0,40}决议")
_ZONE_WORDS = ("高新技术产业开发区", "经济技术开发区", "高新区", "开发区", "经开区", "新区", "园区")
# The city a district or zone belongs to, named in its own text: "致厦门经济特区", "珠海市委".
_CITY_STEM = re.compile(r"([\u4e00-\u9fa5]{2})(?=经济特区|市人民政府|市委市政府|市委、市政府)")


@lru_cache(maxsize=1)
def provinces() -> list[dict]:
    text = resources.files("flows.vocab").joinpath("provinces.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


def _is_title_line(line: str) -> bool:
    s = line.strip()
    return 4 <= len(s) <= 60 and bool(_TITLE.search(s)) and not _TITLE_STOP.search(s) \
        and not is_glossary_head(s)


def split_chunks(text: str) -> list[str]:
    """Cut a (normalised) text at title lines that open a new report.

    A title line starts a new report only once the current one has a body (an address to the
    deputies or enough text): the two title lines at the head of one report stay together.
    """
    chunks: list[list[str]] = [[]]
    size = 0
    has_body = False
    for line in text.split("\n"):
        if _is_title_line(line) and (has_body or size > 3000):
            chunks.append([])
            size, has_body = 0, False
        chunks[-1].append(line)
        size += len(line)
        if "各位代表" in line or size > 3000:
            has_body = True
    return ["\n".join(c) for c in chunks if "".join(c).strip()]


def split_item(item: SourceItem, first_doc_index: int = 1) -> list[Report]:
    text = normalize(item.text)
    reports: list[Report] = []
    doc_index = first_doc_index
    for chunk in split_chunks(text):
        cleaned = clean(chunk)
        meta = metadata(cleaned.text, item)
        is_report = not _is_resolution(cleaned.text, item)
        reports.append(Report(
            source_name=item.source_name,
            doc_index=doc_index if is_report else 0,
            item_index=item.item_index,
            is_report=is_report,
            text=cleaned.text,
            glossary=cleaned.glossary,
            removed_lines=sum(cleaned.removed.values()),
            removed_detail=json.dumps(cleaned.removed, ensure_ascii=False, sort_keys=True),
            **meta,
        ))
        if is_report:
            doc_index += 1
    return reports


def _is_resolution(text: str, item: SourceItem) -> bool:
    head = (item.title or "") + "\n" + text[:300]
    return bool(_RESOLUTION.search(head.strip())) and "各位代表" not in text[:2000]


def metadata(text: str, item: SourceItem) -> dict:
    head = text[:1500]
    lines = [ln.strip() for ln in head.split("\n") if ln.strip()]
    title = next((ln for ln in lines[:12] if _is_title_line(ln)), None) or item.title
    region, province = _region(title, head, text)
    tier = tier_of(region)
    if tier == "province":
        province = region
    elif province is None and tier != "national":
        province = _province_from_body(text)
    review, plan, delivered = _years(title, head, text, item)
    return dict(region=region, tier=tier, province=province, review_year=review, plan_year=plan,
                delivered_date=delivered, title=title)


def _region(title: str | None, head: str, text: str) -> tuple[str | None, str | None]:
    """Region and province: from the title, else the congress line, else the body; a district
    or county is completed with its city and province from the gazetteer (vocab/regions.csv)."""
    province = None
    region = None
    compact_title = re.sub(r"\s+", "", title or "")
    m = _REGION_IN_TITLE.search(compact_title)
    if m:
        province = _province_name(m.group(1)) if m.group(1) else None
        region = re.sub(r"(?:19|20)\d{2}年(?:度)?", "", m.group(2)).strip() or None
    if region and ("国务院" in region or "中华人民共和国" in region or region == "全国"):
        return "全国", None
    if not region:
        m = _REGION_AT_CONGRESS.search(re.sub(r"\s+", "", head))
        if m:
            region = m.group(1)
            if region.startswith("全国"):
                return "全国", None
    if not region and "国务院" in head:
        return "全国", None
    if not region:
        region = _zone_from_body(text)
    if not region:
        return None, province
    place = _gazetteer_lookup(region, text)
    if place:
        region, gz_province = place
        return region, province or gz_province
    if not _has_parent(region):
        region = _with_parent_city(region, text)
    return region, province


@lru_cache(maxsize=1)
def regions() -> dict[str, list[dict]]:
    text = resources.files("flows.vocab").joinpath("regions.csv").read_text(encoding="utf-8")
    by_name: dict[str, list[dict]] = {}
    for row in csv.DictReader(text.splitlines()):
        by_name.setdefault(row["name"], []).append(row)
    return by_name


def _gazetteer_lookup(region: str, text: str) -> tuple[str, str] | None:
    """'湖里区' -> ('厦门市湖里区', '福建省'); '江门市江海区' -> itself; '南宁市' -> ('南宁市', '广西…').
    Names shared by several places are told apart by how often their city and province are named."""
    if _province_name(region):
        return None
    table = regions()
    for cut in range(0, len(region) - 1):
        tail = region[cut:]
        cands = table.get(tail)
        if not cands:
            continue
        prefix = region[:cut]
        if prefix:
            cands = [c for c in cands if c["city"].startswith(prefix) or c["province"].startswith(prefix)
                     or prefix.startswith(c["city"][:2] or "~")] or cands
        best = max(cands, key=lambda c: text.count(c["city"][:2]) * 2 + text.count(c["province"][:2])
                   if c["city"] else text.count(c["province"][:2]))
        if best["level"] == "county" and best["city"] and best["city"] != best["province"] \
                and not tail.endswith("市"):   # a county-level city is named alone (高安市)
            full = best["city"] + tail if not prefix else (prefix if prefix.endswith(("市", "州", "盟")) else best["city"]) + tail
            return full, best["province"]
        return (prefix + tail if prefix else tail), best["province"]
    return None


def _province_name(name: str) -> str | None:
    for p in provinces():
        if name in (p["name"], p["short"]):
            return p["name"]
    return None


def _has_parent(region: str) -> bool:
    return "市" in region[:-1] or "州" in region[:-1] or region.endswith(("市", "省", "自治区")) \
        or _province_name(region) is not None or region == "全国"


def _with_parent_city(region: str, text: str) -> str:
    """A district or zone named alone gets its city when the text names it ("厦门市湖里区")."""
    m = re.search(r"([\u4e00-\u9fa5]{2,4}市)" + re.escape(region), text)
    if m:
        return m.group(1) + region
    stem = _city_stem(text)
    if stem:
        if not region.startswith(stem):
            suffix = "" if region.endswith(_ZONE_WORDS) else "市"
            return stem + suffix + region
    return region


def _zone_from_body(text: str) -> str | None:
    """A report with no title: the zone or district it keeps naming ("高新区")."""
    for word in _ZONE_WORDS:  # most specific first
        if text.count(word) >= 3:
            return (_city_stem(text) or "") + word
    return None


def _city_stem(text: str) -> str | None:
    stems = Counter(s for s in _CITY_STEM.findall(text) if s[0] not in "全本我各市")
    return stems.most_common(1)[0][0] if stems else None


def _province_from_body(text: str) -> str | None:
    counts = Counter()
    for p in provinces():
        n = text.count(p["short"])
        if n:
            counts[p["name"]] = n
    if not counts:
        return None
    name, n = counts.most_common(1)[0]
    return name


def tier_of(region: str | None) -> str | None:
    if not region:
        return None
    if region == "全国":
        return "national"
    if _province_name(region):
        return "province"
    if region.endswith(_ZONE_WORDS):
        return "zone"
    if region.endswith(("县", "旗", "自治县")):
        return "county"
    if region.endswith("区"):
        return "district"
    if region.endswith(("市", "州", "盟", "地区")):
        return "city"
    return None


def _years(title, head, text, item) -> tuple[int | None, int | None, str | None]:
    delivered = None
    m = _DATE.search(head)
    if m and 1 <= int(m.group(2)) <= 12 and 1 <= int(m.group(3)) <= 31:
        y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
        delivered = f"{y:04d}-{mo:02d}-{d:02d}"
        return (y, y + 1, delivered) if mo >= 11 else (y - 1, y, delivered)
    if title:
        m = _YEAR.search(title)
        if m:
            plan = int(m.group(1))
            return plan - 1, plan, None
    m = _REVIEW_HEAD.search(text[:20000])
    if m:
        review = int(m.group(1))
        return review, review + 1, None
    m = _PLAN_HEAD.search(text)
    if m:
        plan = int(m.group(1))
        return plan - 1, plan, None
    if item.year:
        return item.year - 1, item.year, None
    return None, None, None
