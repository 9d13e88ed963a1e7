"""split: one normalised source item -> its reports, each cleaned, with region, tier and years.

A compilation holds many reports, each opening with a title line ("2023年彬州市政府工作报告").
Items that are not reports (an NPC resolution approving one) are kept with is_report=False.
"""
from __future__ import annotations

import json
import re
from collections import Counter

from .clean import clean, is_glossary_head
from .normalise import normalise
from .model import Report, SourceItem
from .read.screen import RECORD_CONTAINERS
from .places import (ZONE_WORDS, Place, by_code, count, county_stems, lookup, place, province_name,
                     provinces, tier_of)

_TITLE = re.compile(r"政\s*府\s*工\s*作\s*报\s*告")
_TITLE_STOP = re.compile(r"[,，。;；:：!！?？]")
# (a first digit apart from the repeat: re scans for a leading class only when it is not a repeat)
_DATE = re.compile(r"(\d\d{3})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})\s*年?")
_REGION_IN_TITLE = re.compile(
    r"^(?:(?:19|20)\d{2}年)?\s*(?:[(（]([^()（）]{2,10})[)）])?\s*(.{2,24}?)(?:人民)?政府工作报告")
_REGION_AT_CONGRESS = re.compile(r"在(.{2,20}?)第[一二三四五六七八九十\d]{1,4}届人民代表大会")
_REVIEW_HEAD = re.compile(r"((?:19|20)\d{2})年(?:工作)?(?:回顾|总结)")
_PLAN_HEAD = re.compile(r"((?:19|20)\d{2})年(?:工作|主要)?(?:安排|计划|任务|目标|工作思路|重点工作)")
_RESOLUTION = re.compile(r"关于.{0,12}政府工作报告的决议|^.{0,40}决议")
# The city a district or zone belongs to, named in its own text: "致厦门经济特区", "珠海市委".
_CITY_STEM = re.compile(r"([\u4e00-\u9fa5]{2})(?=经济特区|市人民政府|市委市政府|市委、市政府)")


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
    text = normalise(item.text)
    reports: list[Report] = []
    doc_index = first_doc_index
    # a record (a table row, a JSON line) is one report, never cut in pieces; a document may be
    # a compilation of many
    chunks = [text] if item.container in RECORD_CONTAINERS else split_chunks(text)
    for chunk in chunks:
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
    """Region, tier, province, years, delivered date and title of a report. The text is read
    first; a record's own columns (a vendor row's place, city, province, code, title and year; a
    page's date) fill in what the text does not say. Where the two disagree the text wins and
    the disagreement is kept in `metadata_conflicts` for an analyst."""
    head = text[:1500]
    lines = [ln.strip() for ln in head.split("\n") if ln.strip()]
    text_title = next((ln for ln in lines[:12] if _is_title_line(ln)), None)
    title = text_title or item.title
    conflicts: list[str] = []
    said = _region_from_text(text_title, head, text)
    row = _region_from_row(item, text)
    if said is None and row is None and item.title:
        said = _region_from_text(item.title, head, text)   # a container's title (JSON, a page)
    if said is None and row is not None and _barely_named(item, text):
        said = _dominant_place(text)       # the row names a place its text hardly mentions
    if said is None and row is None:
        zone = _zone_from_body(text)       # a report with no title: the zone it keeps naming
        said = _resolve(zone, text) if zone else None
    found = _as_named_then(said or row, text)
    if said is not None and row is not None and not _same_place(said, row):
        conflicts.append(f"region: the text is {said.name}"
                         + (f" ({said.province})" if said.province and said.province != said.name else "")
                         + f", the row says {_row_words(item)}")
    region = found.name if found else None
    tier = tier_of(region)
    province = found.province if found else None
    if tier == "province":
        province = region
    elif province is None and tier not in ("national", None):
        province = _province_from_body(text)
    review, plan, delivered = _years(title, head, text, item)
    if item.year and plan and item.year != plan and _has_row_place(item):
        conflicts.append(f"year: the text plans {plan}" + (f" (delivered {delivered})" if delivered else "")
                         + f", the row says {item.year}")
    return dict(region=region, region_code=found.code if found else None, tier=tier, province=province,
                review_year=review, plan_year=plan, delivered_date=delivered, title=title,
                metadata_conflicts="; ".join(conflicts) or None)


_NATIONAL = Place("全国", None, None, None)
_I_REPRESENT = re.compile(r"我代表(.{2,16}?)人民政府")


def _region_from_text(title: str | None, head: str, text: str) -> Place | None:
    """The region a report names itself: its title line, else the congress it is delivered to,
    else "我代表…人民政府", else the zone it keeps naming."""
    compact_title = "".join((title or "").split())   # (str.split's whitespace is re's \s)
    m = _REGION_IN_TITLE.search(compact_title)
    candidate = None
    if m:
        candidate = re.sub(r"(?:19|20)\d{2}年(?:度)?", "", m.group(2)).strip() or None
        if m.group(1) and candidate and not province_name(candidate):
            got = _resolve(candidate, text, province=province_name(m.group(1)))
            if got:
                return got
    if candidate and ("国务院" in candidate or "中华人民共和国" in candidate or candidate == "全国"):
        return _NATIONAL
    compact_head = "".join(head.split())
    if not candidate:
        m = _REGION_AT_CONGRESS.search(compact_head)
        if m:
            candidate = m.group(1)
            if candidate.startswith("全国"):
                return _NATIONAL
    if not candidate and "国务院" in head:
        return _NATIONAL
    if not candidate:
        m = _I_REPRESENT.search(compact_head)
        if m and lookup(m.group(1), text):     # only a place the gazetteer knows
            candidate = m.group(1)
    return _resolve(candidate, text) if candidate else None


def _resolve(candidate: str, text: str, city: str | None = None, province: str | None = None) -> Place | None:
    got = lookup(candidate, text, city=city, province=province)
    if got:
        return got
    if not _has_parent(candidate):
        candidate = _with_parent_city(candidate, text)
    return Place(candidate, None, province, None)


def _has_row_place(item: SourceItem) -> bool:
    return bool(item.place or item.region_code)


def _region_from_row(item: SourceItem, text: str) -> Place | None:
    """The place a record's columns name: its code, else its place with city and province."""
    if item.region_code:
        row = by_code().get(item.region_code.strip())
        if row and item.place and not (row["name"].startswith(item.place[:2]) or item.place.startswith(row["name"][:2])):
            row = None   # the code and the name disagree: the name is read
        if row:
            return place(row, row["name"])
    if item.place:
        city = item.city or None
        prov = province_name(item.province) or item.province
        got = lookup(item.place, text, city=city, province=prov)
        if got is None and not item.place.endswith(("县", "区", "市", "旗")):
            for suffix in ("县", "区", "市", "旗"):
                got = lookup(item.place + suffix, text, city=city, province=prov)
                if got:
                    break
        return got or Place(item.place, None, prov, city)
    return None


def _barely_named(item: SourceItem, text: str) -> bool:
    """A long text that names the row's place (its stem) fewer than three times."""
    stem = (item.place or "").rstrip("县区市旗")
    return len(text) > 3000 and len(stem) >= 2 and count(text, stem) < 3


def _dominant_place(text: str) -> Place | None:
    """The county-level place a text keeps naming (by its stem, "新安" for 新安县), when one
    clearly dominates: at least five mentions and three times any other."""
    counts = Counter(m.group(0) for m in county_stems().finditer(text))
    if not counts:
        return None
    (best, n), *rest = counts.most_common(2)
    if n < 5 or (rest and rest[0][1] * 3 > n):
        return None
    for suffix in ("县", "区", "市", "旗"):
        got = lookup(best + suffix, text)
        if got:
            return got
    return None


def _as_named_then(found: Place | None, text: str) -> Place | None:
    """A renamed county under the name its report uses: a vendor's code or title gives today's
    name (清苑区, a 县 until 2015); a 2008 report that names itself 清苑县, or never names itself
    and speaks of 全县 and 县政府 only, is 保定市清苑县 (with today's code)."""
    if found is None or not found.code or not found.name.endswith(("县", "区")):
        return found
    short = found.name.rsplit("市", 1)[-1]       # 清苑区 of 保定市清苑区
    if len(short) < 3 or count(text, short):
        return found
    own, stem = short[-1], short[:-1]
    other = "县" if own == "区" else "区"
    named_other = len(stem) >= 2 and count(text, stem + other) > 0
    speaks_other = count(text, "全" + other) >= 5 and not count(text, "全" + own)
    if named_other or speaks_other:
        return Place(found.name[:-1] + other, found.code, found.province, found.city)
    return found


def _same_place(a: Place, b: Place) -> bool:
    if a.code and b.code:
        return a.code == b.code
    return a.name == b.name or a.name.endswith(b.name) or b.name.endswith(a.name)


def _row_words(item: SourceItem) -> str:
    words = [w for w in (item.place, item.city, item.province) if w]
    if item.region_code:
        words.append(f"({item.region_code})")
    return ", ".join(words[:3]) + (" " + words[3] if len(words) > 3 else "")


def _has_parent(region: str) -> bool:
    return "市" in region[:-1] or "州" in region[:-1] or region.endswith(("市", "省", "自治区")) \
        or province_name(region) is not None or region == "全国"


def _with_parent_city(region: str, text: str) -> str:
    """A district or zone named alone gets its city when the text names it ("厦门市湖里区")."""
    m = re.search(r"([\u4e00-\u9fa5]{2,4}市)" + re.escape(region), text)
    if m:
        return m.group(1) + region
    stem = _city_stem(text)
    if stem:
        if not region.startswith(stem):
            suffix = "" if region.endswith(ZONE_WORDS) else "市"
            return stem + suffix + region
    return region


def _zone_from_body(text: str) -> str | None:
    """A report with no title: the zone or district it keeps naming ("高新区")."""
    for word in ZONE_WORDS:  # most specific first
        if count(text, word) >= 3:
            return (_city_stem(text) or "") + word
    return None


def _city_stem(text: str) -> str | None:
    stems = Counter(s for s in _CITY_STEM.findall(text) if s[0] not in "全本我各市")
    return stems.most_common(1)[0][0] if stems else None


def _province_from_body(text: str) -> str | None:
    counts = Counter()
    for p in provinces():
        n = count(text, p["short"])
        if n:
            counts[p["name"]] = n
    if not counts:
        return None
    name, n = counts.most_common(1)[0]
    return name


_CN_DATE = re.compile(r"([〇零○O一二三四五六七八九][〇零○O一二三四五六七八九]{3})\s*年"
                      r"\s*([一二三四五六七八九十]{1,3})\s*月\s*([一二三四五六七八九十]{1,3})\s*日")
_CN_DIGIT = {c: str(i) for i, c in enumerate("〇一二三四五六七八九")} | {"零": "0", "○": "0", "O": "0"}
_ISO = re.compile(r"((?:19|20)\d{2})[-/.年](\d{1,2})[-/.月](\d{1,2})")


def _date_in(head: str) -> tuple[int, int, int] | None:
    """The first date written in the head: "2023年1月12日" or "二〇二三年一月十二日"."""
    if not ("年" in head and "月" in head and "日" in head):
        return None   # (a quick test: every date is written with all three)
    import cn2an

    found = []
    m = _DATE.search(head)
    if m:
        found.append((m.start(), int(m.group(1)), int(m.group(2)), int(m.group(3))))
    m = _CN_DATE.search(head)
    if m:
        year = int("".join(_CN_DIGIT[c] for c in m.group(1)))
        try:   # cn2an on the number spans only
            month, day = int(cn2an.cn2an(m.group(2), "smart")), int(cn2an.cn2an(m.group(3), "smart"))
        except (ValueError, KeyError):
            month = day = 0
        found.append((m.start(), year, month, day))
    for _at, y, mo, d in sorted(found):
        if 1 <= mo <= 12 and 1 <= d <= 31:
            return y, mo, d
    return None


def _iso_date(value: str | None) -> tuple[int, int, int] | None:
    m = _ISO.match(value.strip()) if value else None
    if m and 1 <= int(m.group(2)) <= 12 and 1 <= int(m.group(3)) <= 31:
        return int(m.group(1)), int(m.group(2)), int(m.group(3))
    return None


def _years_of(date: tuple[int, int, int]) -> tuple[int, int, str]:
    """A report delivered in November or December reviews that year and plans the next."""
    y, mo, d = date
    return (y, y + 1, f"{y:04d}-{mo:02d}-{d:02d}") if mo >= 11 else (y - 1, y, f"{y:04d}-{mo:02d}-{d:02d}")


def _years(title, head, text, item) -> tuple[int | None, int | None, str | None]:
    """(review year, plan year, delivered date): from a date in the text's head, else the year
    of its title or of its review / plan headings; the record's own date (a page's publication
    date) is the delivered date when the text gives none, and its year the last resort."""
    date = _date_in(head)
    if date:
        return _years_of(date)
    page_date = _iso_date(item.publish_date)
    delivered = _years_of(page_date)[2] if page_date else None
    if title:
        m = _YEAR.search(title)
        if m:
            plan = int(m.group(1))
            return plan - 1, plan, delivered
    m = _REVIEW_HEAD.search(text[:20000])
    if m:
        review = int(m.group(1))
        return review, review + 1, delivered
    m = _PLAN_HEAD.search(text)
    if m:
        plan = int(m.group(1))
        return plan - 1, plan, delivered
    if page_date:
        return _years_of(page_date)
    if item.year:
        return item.year - 1, item.year, None
    return None, None, None
