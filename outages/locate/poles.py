"""Pole labels as callers read them off the pole: ``城关Ⅰ线45号杆``, ``城关1线 45``,
``城关一线第45基``, ``10kV城关Ⅰ线45#``, ``45-3`` (a branch pole), ``45号杆`` alone.

A label has two parts: the line (feeder or branch line name, said with Roman, Arabic or
Chinese numerals, with or without ``10kV`` and ``线``, often with a homophone) and the pole
number. The line part is reduced to a *stem* and an *ordinal* (``城关``, ``1``): the ordinal
must agree exactly (城关Ⅰ线 and 城关Ⅱ线 are different feeders that sound alike) while the stem
is matched fuzzily, in characters and pinyin.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from outages.locate.text import (
    CN_NUM_RE,
    Spelled,
    nfkc,
    number_text,
    numbered_label,
    roman_to_int,
    spell,
)

_NUMLAB = rf"(?:\d+|{CN_NUM_RE})(?:\s*-\s*(?:\d+|{CN_NUM_RE}))*"
_MARKED = re.compile(rf"第?\s*({_NUMLAB})(?:\s*(?:号杆|号电杆|号塔|号(?!线)|基|杆)|#)")
_PREFIXED = re.compile(rf"(?:#|no\.?|pole|杆号|编号)\s*({_NUMLAB})", re.IGNORECASE)
_TRAILING = re.compile(rf"(?:第\s*)?({_NUMLAB})\s*$")
_KV = re.compile(r"\d*(?:\.\d+)?\s*(?:kv|千伏)")
_ROMAN = re.compile(r"(?<![a-z])([ivx]+)(?![a-z])")
_ORDINAL = re.compile(r"(\d+|[一二三四五六七八九十]+)[号回]?(?:线路|线)")
_TRAILING_ORDINAL = re.compile(r"(\d+|[一二三四五六七八九十]+)回?$")
_JUNK = re.compile(r"[\s,，.。:：;；/()（）\[\]【】\"'“”‘’]+")


@dataclass(frozen=True, slots=True)
class PoleLabel:
    line: str | None  # as said, numbers and markers removed: 城关Ⅰ线
    number: str | None  # canonical: 45, 45-3


def parse_pole_label(text: str) -> PoleLabel:
    """Splits a spoken pole label into its line and its number."""
    return _parse_pole_label(text)[0]


def pole_label_readings(text: str) -> list[PoleLabel]:
    """The ways to split a label, likeliest first: as :func:`parse_pole_label` does, then,
    when the line is said right before a number of several parts, with its first parts
    given back to the line, unless it has its ordinal already (``Feeder 8-57`` is pole 57
    of Feeder 8 as well as pole 8-57 of a line called Feeder; ``城关1-45`` is pole 45 of
    城关1线)."""
    first, line_first = _parse_pole_label(text)
    readings = [first]
    if (
        line_first
        and first.line
        and first.number
        and "-" in first.number
        and line_key(first.line)[1] is None  # 城关1线 45-3: the line has its ordinal
    ):
        parts = first.number.split("-")
        for k in range(1, len(parts)):
            line = f"{first.line} {'-'.join(parts[:k])}"
            readings.append(PoleLabel(line, "-".join(parts[k:])))
    return readings


def _parse_pole_label(text: str) -> tuple[PoleLabel, bool]:
    """The label, and whether its line was said before its number and nothing after."""
    t = nfkc(text).strip()
    if "之" in t:
        t = re.sub(r"(\d)\s*之\s*(\d)", r"\1-\2", t)
    marked = list(_MARKED.finditer(t))
    m = marked[-1] if marked else None  # the last one: a line may be named 城关1号线
    if m is None:
        m = _PREFIXED.search(t)
    if m is None:
        m = _TRAILING.search(t)
        if (
            m is not None
            and m.start() > 0
            and re.fullmatch(r"[一二三四五六七八九十]", m.group(1))
            and t[m.start() - 1] not in "线回 "
        ):
            m = None  # 城关一: a Chinese ordinal right after a name is the line's, not a pole
    if m is None:
        line = _JUNK.sub(" ", t).strip()
        return PoleLabel(line or None, None), False
    raw = m.group(1)
    if raw.isascii():
        parts = raw.replace(" ", "").split("-")
        number = "-".join(str(int(p)) for p in parts) if all(p.isdigit() for p in parts) else None
    else:
        number = numbered_label(re.sub(r"\s+", "", raw))
    before, after = t[: m.start()], t[m.end() :]
    rest = (before + " " + after).strip()
    rest = re.sub(r"第\s*$", "", rest).strip()
    rest = _JUNK.sub(" ", rest).strip(" -#")
    line_first = bool(before.strip()) and not _JUNK.sub("", after)
    return PoleLabel(rest or None, number), line_first


def line_key(text: str) -> tuple[str, str | None]:
    """(stem, ordinal) of a line name: ``10kV城关Ⅰ线`` and ``城关一线`` are (城关, 1)."""
    t = nfkc(text).lower()
    t = _KV.sub("", t)
    t = _ROMAN.sub(lambda m: str(roman_to_int(m.group(1)) or m.group(1)), t)
    t = _JUNK.sub("", t)
    ordinal = None
    m = _ORDINAL.search(t)
    if m is not None:
        ordinal = number_text(m.group(1))
        t = t[: m.start()] + t[m.end() :]
    else:
        m = _TRAILING_ORDINAL.search(t)
        if m is not None and m.start() > 0:
            ordinal = number_text(m.group(1))
            t = t[: m.start()]
    stem = t.replace("线路", "").replace("线", "").replace("-", "")
    return stem, ordinal


@dataclass(frozen=True, slots=True)
class LineMatch:
    key: tuple[str, str | None]
    score: float  # 0..100
    how: str


class LineIndex:
    """The known line names (feeders and branch lines), searchable by what a caller says."""

    def __init__(self, keys: list[tuple[str, str | None]]) -> None:
        self.keys = keys
        self._stem_index: dict[str, int] = {}
        self._stem_keys: list[list[int]] = []
        for i, (stem, _ord) in enumerate(keys):
            j = self._stem_index.setdefault(stem, len(self._stem_keys))
            if j == len(self._stem_keys):
                self._stem_keys.append([])
            self._stem_keys[j].append(i)
        self._stems = list(self._stem_index)
        spelled = [spell(s) for s in self._stems]
        self._spelled = spelled
        self._codes = [sp.codes for sp in spelled]
        self._by_codes: dict[str, list[int]] = {}
        for i, c in enumerate(self._codes):
            self._by_codes.setdefault(c, []).append(i)
        for i, s in enumerate(self._stems):  # the reading in context, when it differs
            spoken = spell(s, True).codes
            if spoken != self._codes[i]:
                self._by_codes.setdefault(spoken, []).append(i)
        self._letters = [sp.letters for sp in spelled]
        self._cache: dict[str, list[LineMatch]] = {}

    def clear_cache(self) -> None:
        self._cache.clear()

    def match(self, said: str, threshold: float = 70.0) -> list[LineMatch]:
        """The known lines a said line name may be, best first (cached per text). The
        ordinal must agree when both have one; the stem is compared in characters and in
        pinyin, so that a homophone (固阳 for 堌阳) is a match."""
        hit = self._cache.get(said)
        if hit is None:
            hit = self._match(said, threshold)
            if len(self._cache) > 50_000:
                self._cache.clear()
            self._cache[said] = hit
        return hit

    def _match(self, said: str, threshold: float) -> list[LineMatch]:
        stem, ordinal = line_key(said)
        scored: dict[int, tuple[float, str]] = {}
        exact = self._stem_index.get(stem)
        q = spell(stem)
        if exact is not None:
            scored[exact] = (100.0, "exact")
        elif (same := self._by_codes.get(q.codes)) is not None:
            for i in same:  # a homophone: the same syllables, other characters
                scored[i] = _stem_score(self._spelled[i], q)
        elif not len(q):
            return []
        else:
            picks = {
                i
                for _c, _s, i in process.extract(
                    q.codes, self._codes, scorer=fuzz.ratio, limit=8, score_cutoff=40
                )
            }
            picks.update(
                i
                for _c, _s, i in process.extract(
                    q.letters, self._letters, scorer=fuzz.ratio, limit=8, score_cutoff=60
                )
            )
            if len(q) >= 2:
                picks.update(
                    i
                    for _c, _s, i in process.extract(
                        q.codes, self._codes, scorer=fuzz.partial_ratio, limit=8, score_cutoff=100
                    )
                )
            for i in picks:
                scored[i] = _stem_score(self._spelled[i], q)
        out: list[LineMatch] = []
        for i, (score, how) in scored.items():
            for k in self._stem_keys[i]:
                key = self.keys[k]
                k_ord = key[1]
                if ordinal is not None and k_ord is not None and ordinal != k_ord:
                    continue
                s = score
                if ordinal is None and k_ord is not None:
                    s -= 8.0  # 城关线 for 城关Ⅰ线: fits, but so may 城关Ⅱ线
                elif ordinal is not None and k_ord is None:
                    s -= 15.0
                if s >= threshold:
                    out.append(LineMatch(key, s, how))
        out.sort(key=lambda m: -m.score)
        return out


def _stem_score(f: Spelled, q: Spelled) -> tuple[float, str]:
    sound = max(fuzz.ratio(f.codes, q.codes), fuzz.ratio(f.letters, q.letters))
    if q.chars and f.chars:
        score = 0.75 * sound + 0.25 * fuzz.ratio(f.chars, q.chars)
        how = "pinyin" if sound >= 100 else "fuzzy"
    else:
        score, how = sound, "pinyin"
    if score < 85 and min(len(f), len(q)) >= 2 and fuzz.partial_ratio(f.codes, q.codes) >= 100:
        # the caller said part of the name (小秦分支线 for 考城Ⅱ线小秦分支线), or more: a
        # whole part, which a fuzzy score of the whole name rates low when the part is long
        # (钱家支线 for 10kV桥头Ⅲ线钱家支线 scored 75, and with no ordinal said, 67)
        score, how = 85.0, "partial"
    return score, how
