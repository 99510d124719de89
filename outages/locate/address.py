"""Address text: township, village, group and house number, typed by an agent while listening.

The agent types what the caller says, so the text carries homophones (章庄 for 张庄), typos,
missing parts (no township, no 村, no group), Chinese numerals (三组) and sometimes plain
pinyin (``zhangzhuang cun 3 zu``). The index therefore never compares the text as a whole:

1. :func:`parse_address` takes the numbers out (group, house) and leaves the *name part*;
2. the name part is matched, in characters, pinyin syllables and pinyin letters at once,
   against every name the grid knows: townships and villages (admin areas), the localities
   that service point addresses name (villages, communities, streets) and the gazetteer
   (places and their aliases);
3. the group and house number are looked up inside each matching locality, and whether they
   exist there is evidence for or against that locality.

Candidates come back ranked, with what matched and how well, so that ambiguous text gives
several places instead of one confident wrong one.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from outages.locate.text import (
    BLANK,
    NUM_RE,
    Spelled,
    has_cjk,
    nfkc,
    number_text,
    numbered_label,
    spell,
    syllables,
)

IntArray = npt.NDArray[np.int64]

# -- parsing --------------------------------------------------------------------------------

_GROUP = re.compile(rf"第?\|?({NUM_RE})\|?(村民小组|小组|组|队|巷|弄|胡同|排)")
_HOUSE = re.compile(rf"({NUM_RE}(?:-{NUM_RE})*)\|?(?:号院|号楼|号|#)")
_DIGITS = re.compile(r"\d+(?:-\d+)*")
_PY_GROUP = re.compile(r"(\d+)\s*(zu|dui|xiaozu|xiang|nong)\b")
_GROUP_WORDS = {
    "村民小组": "组",
    "小组": "组",
    "组": "组",
    "队": "组",
    "zu": "组",
    "dui": "组",
    "xiaozu": "组",
    "xiang": "巷",
    "nong": "弄",
}
_PY_HOUSE = re.compile(r"(\d+(?:-\d+)*)\s*(?:hao)\b")
_NOT_NAME = re.compile(r"[^\u3400-\u4dbf\u4e00-\u9fffa-z〇]+")
# Words around a place that say where relative to it, not which place.
_RELATIVE = re.compile(
    r"(附近|旁边|对面|门口|一带|这边|那边|后面|前面|东边|西边|南边|北边|东头|西头)$"
)
_PY_RELATIVE = re.compile(r"\b(fujin|pangbian|duimian)\b")

TOWNSHIP_SUFFIXES = ("街道办事处", "街道", "镇", "乡")
COUNTY_SUFFIXES = ("自治县", "县", "市", "区")
TOWN_MARKERS = frozenset("镇乡县市区")
LOCALITY_SUFFIXES = ("村民委员会", "村委会", "居委会", "社区", "村")
# Gazetteer kinds that stand for an admin area, not a point inside one.
AREA_KINDS = frozenset(
    {
        "village",
        "community",
        "town",
        "township",
        "county",
        "settlement",
        "村",
        "社区",
        "镇",
        "乡",
        "县",
    }
)
# An SP address ends with its house number in the commonest form: split it off cheaply.
_SP_TAIL = re.compile(r"^(.*?)(\d+(?:-\d+)*)号$")


@dataclass(frozen=True, slots=True)
class AddressQuery:
    """An address split into its name part and its numbers."""

    text: str
    name: str  # letters and characters only: 城关镇张庄村, zhangzhuangcun
    group: str | None = None
    house: str | None = None
    bare: tuple[str, ...] = ()  # numbers without a marker, in order
    pinyin: bool = False
    group_word: str | None = None  # 组 (villager group), 巷 (lane), ...


def parse_address(text: str) -> AddressQuery:
    """Splits an address into name part, group (组/队) and house (号); bare numbers after the
    name are read as group then house (``张庄村3 15``)."""
    t = nfkc(text).strip().lower()
    if not has_cjk(t):
        return _parse_pinyin(text, t)
    t = re.sub(r"\s+", "|", t)  # a space still separates two numbers
    group = house = word = None
    m = _GROUP.search(t)
    if m:
        group = number_text(m.group(1))
        word = _GROUP_WORDS.get(m.group(2), m.group(2))
        t = t[: m.start()] + "|" + t[m.end() :]
    m = _HOUSE.search(t)
    if m:
        house = numbered_label(m.group(1))
        t = t[: m.start()] + "|" + t[m.end() :]
    bare = tuple(_DIGITS.findall(t))
    t = _DIGITS.sub("|", t)
    group, house, bare = _assign_bare(group, house, bare)
    name = _NOT_NAME.sub("", t)
    name = _RELATIVE.sub("", name)
    return AddressQuery(text, name, group, house, bare, False, word)


def _parse_pinyin(original: str, t: str) -> AddressQuery:
    group = house = word = None
    m = _PY_GROUP.search(t)
    if m:
        group = str(int(m.group(1)))
        word = _GROUP_WORDS[m.group(2)]
        t = t[: m.start()] + " " + t[m.end() :]
    m = _PY_HOUSE.search(t)
    if m:
        house = numbered_label(m.group(1))
        t = t[: m.start()] + " " + t[m.end() :]
    bare = tuple(_DIGITS.findall(t))
    t = _DIGITS.sub(" ", t)
    t = _PY_RELATIVE.sub(" ", t)
    group, house, bare = _assign_bare(group, house, bare)
    name = _NOT_NAME.sub("", t)
    return AddressQuery(original, name, group, house, bare, True, word)


def _assign_bare(
    group: str | None, house: str | None, bare: tuple[str, ...]
) -> tuple[str | None, str | None, tuple[str, ...]]:
    nums = [numbered_label(b) or b for b in bare]
    if group is None and house is None and len(nums) >= 2:
        return nums[0], nums[1], ()
    if house is None and group is not None and nums:
        return group, nums[0], ()
    if group is None and house is not None and nums:
        return nums[0], house, ()
    return group, house, tuple(nums)


def strip_suffix(name: str, suffixes: tuple[str, ...]) -> str:
    """The bare form locals say (张庄 for 张庄村), keeping at least two characters."""
    for s in suffixes:
        if name.endswith(s) and len(name) - len(s) >= 2:
            return name[: -len(s)]
    return name


# -- the index ------------------------------------------------------------------------------

TOWNSHIP, LOCALITY, PLACE, COUNTY = 0, 1, 2, 3


@dataclass
class Township:
    name: str
    admin_id: str | None = None
    centre: tuple[float, float] | None = None


@dataclass
class Locality:
    """A village, community or street: where groups and house numbers are counted."""

    name: str  # as written in addresses or the admin layer (张庄村, 人民路)
    township: int | None
    admin_id: str | None = None
    centre: tuple[float, float] | None = None
    group_word: str | None = None  # how its addresses count groups: 组 in villages, 巷 on streets


@dataclass
class Place:
    name: str
    lon: float
    lat: float
    admin_id: str | None = None
    kind: str | None = None
    township: int | None = None


@dataclass(frozen=True, slots=True)
class Form:
    """One searchable spelling of an entity (a name or an alias)."""

    text: str
    spelled: Spelled
    kind: int
    entity: int
    alias: bool


@dataclass(frozen=True, slots=True)
class NameMatch:
    kind: int
    entity: int
    score: float  # 0..100
    form: str
    how: str  # "exact", "characters", "pinyin", "pinyin letters"
    span: tuple[int, int]
    rank: float = 0.0  # the score plus a tie-break for names that explain more of the text


@dataclass(frozen=True, slots=True)
class AddressHit:
    """One place the address may mean, before transformer likelihoods are attached."""

    score: float  # ranking score; higher is better
    level: str  # house, group, locality, place, township, county
    rows: IntArray  # service point rows at that place (empty for places and areas)
    lon: float | None
    lat: float | None
    label: str  # 张庄村 3组 15号
    evidence: tuple[str, ...]
    admin_id: str | None = None
    name_score: float = 100.0


@dataclass
class _Keys:
    """Service points sorted by (locality, group, house) packed into one int64."""

    keys: npt.NDArray[np.int64]
    rows: IntArray
    house_keys: npt.NDArray[np.int64]  # (locality, house) for a house without its group
    house_rows: IntArray


_G_BITS = 20
_H_BITS = 20


class AddressIndex:
    """Everything address text can be matched against, built once per grid."""

    def __init__(
        self,
        sps: pd.DataFrame,
        sp_lon: npt.NDArray[np.float64],
        sp_lat: npt.NDArray[np.float64],
        admin: pd.DataFrame,
        places: pd.DataFrame,
    ) -> None:
        self.sp_lon = sp_lon
        self.sp_lat = sp_lat
        self.townships: list[Township] = []
        self.localities: list[Locality] = []
        self.places: list[Place] = []
        self.counties: list[Township] = []
        self._township_by_name: dict[str, int] = {}
        self._locality_by_key: dict[tuple[int | None, str], int] = {}
        self._group_ids: dict[str, int] = {"": 0}
        self._house_ids: dict[str, int] = {"": 0}
        self.forms: list[Form] = []
        self._exact: dict[str, list[int]] = {}  # name-part text -> locality
        self._place_aliases: list[tuple[str, ...]] = []
        syllables()  # the pinyin syllable table, built now rather than on the first call
        self._build_admin(admin)
        self._build_service_points(sps)
        self._build_places(places)
        self._build_forms()

    # -- build ------------------------------------------------------------------------------

    def _build_admin(self, admin: pd.DataFrame) -> None:
        self._admin_parent: dict[str, str | None] = {}
        self._town_of_admin: dict[str, int] = {}
        if not len(admin):
            return
        ids = [str(v) for v in admin["id"].tolist()]
        names = [str(v or "") for v in admin["name"].tolist()]
        levels = [str(v or "") for v in admin["level"].tolist()]
        parents = admin["parent_id"].tolist() if "parent_id" in admin else [None] * len(admin)
        centres = [_centre(g) for g in admin["geometry"].tolist()]
        self._admin_parent = {i: (str(p) if p else None) for i, p in zip(ids, parents, strict=True)}
        town_of_admin = self._town_of_admin
        for aid, name, level, centre in zip(ids, names, levels, centres, strict=True):
            if level == "county":
                self.counties.append(Township(name, aid, centre))
            elif level == "township":
                town_of_admin[aid] = self._add_township(name, aid, centre)
        for aid, name, level, centre in zip(ids, names, levels, centres, strict=True):
            if level != "village":
                continue
            parent = self._admin_parent.get(aid)
            town = town_of_admin.get(parent) if parent else None
            key = (town, strip_suffix(_clean(name), LOCALITY_SUFFIXES))
            idx = self._locality_by_key.get(key)
            if idx is None:
                idx = len(self.localities)
                self.localities.append(Locality(name, town, aid, centre))
                self._locality_by_key[key] = idx
            else:
                self.localities[idx].admin_id = aid
                self.localities[idx].centre = centre

    def _township_of(self, admin_id: Any) -> int | None:
        """The township an admin area lies in (itself when it is one)."""
        aid = str(admin_id) if admin_id else None
        for _ in range(4):
            if aid is None:
                return None
            if aid in self._town_of_admin:
                return self._town_of_admin[aid]
            aid = self._admin_parent.get(aid)
        return None

    def _add_township(
        self, name: str, admin_id: str | None, centre: tuple[float, float] | None
    ) -> int:
        clean = _clean(name)
        bare = strip_suffix(clean, TOWNSHIP_SUFFIXES)
        idx = self._township_by_name.get(clean)
        if idx is None:
            idx = len(self.townships)
            self.townships.append(Township(name, admin_id, centre))
            self._township_by_name[clean] = idx
            self._township_by_name.setdefault(bare, idx)
        return idx

    def _split_township(self, name: str) -> tuple[int | None, str]:
        """(township, rest) of an address's name part: a known township name at the start,
        else a name ending in 镇/乡/街道."""
        for n in range(min(len(name), 8), 1, -1):
            idx = self._township_by_name.get(name[:n])
            if idx is not None and n < len(name):
                return idx, name[n:]
        m = re.match(r"^(.{2,6}?(?:街道办事处|街道|镇|乡))(.+)$", name)
        if m:
            return self._add_township(m.group(1), None, None), m.group(2)
        return None, name

    def _locality_for(self, name_part: str) -> int:
        town, rest = self._split_township(name_part)
        bare = strip_suffix(rest, LOCALITY_SUFFIXES)
        key = (town, bare)
        idx = self._locality_by_key.get(key)
        if idx is None and town is None:
            # an address without its township: the one village of that name, if unique
            same = [i for (t, b), i in self._locality_by_key.items() if b == bare]
            if len(same) == 1:
                idx = same[0]
        if idx is None:
            idx = len(self.localities)
            self.localities.append(Locality(rest, town))
            self._locality_by_key[key] = idx
        return idx

    def _build_service_points(self, sps: pd.DataFrame) -> None:
        n = len(sps)
        addresses = sps["address"].tolist() if "address" in sps else [None] * n
        loc = np.zeros(n, dtype=np.int64)
        grp = np.zeros(n, dtype=np.int64)
        hse = np.zeros(n, dtype=np.int64)
        valid = np.zeros(n, dtype=bool)
        stems: dict[str, tuple[int, int]] = {}
        group_ids = self._group_ids
        house_ids = self._house_ids
        split = _SP_TAIL.match
        for row, addr in enumerate(addresses):
            if not addr:
                continue
            m = split(addr)
            if m is not None:
                stem, house = m.group(1), m.group(2)
                if house[0] == "0" or "-" in house:
                    house = "-".join(str(int(p)) for p in house.split("-"))
            else:
                stem, house = addr, ""
            hit = stems.get(stem)
            if hit is None:
                q = parse_address(stem)
                if not q.name:
                    stems[stem] = (-1, 0)
                    continue
                if not house and q.house:
                    house = q.house
                li = self._locality_for(q.name)
                gi = group_ids.setdefault(q.group or "", len(group_ids))
                if q.group_word and not self.localities[li].group_word:
                    self.localities[li].group_word = q.group_word
                hit = stems[stem] = (li, gi)
                same_name = self._exact.setdefault(_clean(q.name), [])
                if li not in same_name:
                    same_name.append(li)
            if hit[0] < 0:
                continue
            loc[row] = hit[0]
            grp[row] = hit[1]
            hse[row] = house_ids.setdefault(house, len(house_ids))
            valid[row] = True
        rows = np.flatnonzero(valid)
        keys = (loc[rows] << (_G_BITS + _H_BITS)) | (grp[rows] << _H_BITS) | hse[rows]
        order = np.argsort(keys, kind="stable")
        hkeys = (loc[rows] << _H_BITS) | hse[rows]
        horder = np.argsort(hkeys, kind="stable")
        self._keys = _Keys(keys[order], rows[order], hkeys[horder], rows[horder])
        self._group_of_row = grp
        # townships known only from addresses (no admin layer): centred on their customers
        town_of_loc = np.asarray(
            [-1 if x.township is None else x.township for x in self.localities], dtype=np.int64
        )
        if len(rows) and len(self.townships):
            town = town_of_loc[loc[rows]]
            ok = town >= 0
            n_t = len(self.townships)
            count = np.bincount(town[ok], minlength=n_t)
            lon = np.bincount(town[ok], weights=self.sp_lon[rows[ok]], minlength=n_t)
            lat = np.bincount(town[ok], weights=self.sp_lat[rows[ok]], minlength=n_t)
            for t, tw in enumerate(self.townships):
                if tw.centre is None and count[t]:
                    tw.centre = (float(lon[t] / count[t]), float(lat[t] / count[t]))
        self._group_names = {v: k for k, v in group_ids.items()}

    def _build_places(self, places: pd.DataFrame) -> None:
        if not len(places):
            return
        names = places["name"].tolist()
        aliases = places["aliases"].tolist() if "aliases" in places else [None] * len(places)
        admin_ids = places["admin_id"].tolist() if "admin_id" in places else [None] * len(places)
        kinds = places["kind"].tolist() if "kind" in places else [None] * len(places)
        for name, al, aid, kind, geom in zip(
            names, aliases, admin_ids, kinds, places["geometry"].tolist(), strict=True
        ):
            if not name or geom is None:
                continue
            c = _centre(geom)
            if c is None:
                continue
            self.places.append(
                Place(
                    str(name),
                    c[0],
                    c[1],
                    str(aid) if aid else None,
                    str(kind) if kind else None,
                    self._township_of(aid),
                )
            )
            self._place_aliases.append(
                tuple(a.strip() for a in str(al).split(";") if a.strip()) if al else ()
            )

    def _build_forms(self) -> None:
        forms: list[Form] = []
        seen: set[tuple[int, int, str]] = set()

        def add(text: str, kind: int, entity: int, alias: bool) -> None:
            clean = _clean(text)
            if len(clean) < 2 or (kind, entity, clean) in seen:
                return
            seen.add((kind, entity, clean))
            forms.append(Form(clean, spell(clean), kind, entity, alias))
            spoken = spell(clean, True)
            if spoken.codes != forms[-1].spelled.codes:  # a character read otherwise here
                forms.append(Form(clean, spoken, kind, entity, alias))

        town_admin: dict[str, int] = {}
        for i, t in enumerate(self.townships):
            add(strip_suffix(_clean(t.name), TOWNSHIP_SUFFIXES), TOWNSHIP, i, False)
            if t.admin_id:
                town_admin[t.admin_id] = i
        county_admin: dict[str, int] = {}
        for i, c in enumerate(self.counties):
            add(strip_suffix(_clean(c.name), COUNTY_SUFFIXES), COUNTY, i, False)
            if c.admin_id:
                county_admin[c.admin_id] = i
        village_admin = {loc.admin_id: i for i, loc in enumerate(self.localities) if loc.admin_id}
        by_bare: dict[str, list[int]] = {}
        for i, loc in enumerate(self.localities):
            bare = strip_suffix(_clean(loc.name), LOCALITY_SUFFIXES)
            add(bare, LOCALITY, i, False)
            by_bare.setdefault(bare, []).append(i)
        for p, place in enumerate(self.places):
            names = (place.name, *self._place_aliases[p])
            # The gazetteer's entries for the areas themselves lend them their aliases (张家庄
            # finds 张庄村 and its house numbers; 县城 finds 城关镇); other places are points.
            kind, target = PLACE, p
            aid = place.admin_id or ""
            if aid in town_admin and _names_area(
                place, self.townships[town_admin[aid]].name, TOWNSHIP_SUFFIXES
            ):
                kind, target = TOWNSHIP, town_admin[aid]
            elif aid in county_admin and _names_area(
                place, self.counties[county_admin[aid]].name, COUNTY_SUFFIXES
            ):
                kind, target = COUNTY, county_admin[aid]
            elif aid in village_admin and _names_area(
                place, self.localities[village_admin[aid]].name, LOCALITY_SUFFIXES
            ):
                kind, target = LOCALITY, village_admin[aid]
            elif not aid:
                bare = strip_suffix(_clean(place.name), LOCALITY_SUFFIXES)
                if len(by_bare.get(bare, ())) == 1:
                    kind, target = LOCALITY, by_bare[bare][0]
            for k, n in enumerate(names):
                if kind == TOWNSHIP:
                    add(strip_suffix(_clean(n), TOWNSHIP_SUFFIXES), kind, target, k > 0)
                elif kind == COUNTY:
                    add(strip_suffix(_clean(n), COUNTY_SUFFIXES), kind, target, k > 0)
                elif kind == LOCALITY:
                    add(strip_suffix(_clean(n), LOCALITY_SUFFIXES), kind, target, True)
                else:
                    add(n, PLACE, p, k > 0)
        self.forms = forms
        self._bigrams: dict[str, list[int]] = {}
        for f_idx, f in enumerate(forms):
            codes = f.spelled.codes
            for k in range(len(codes) - 1):
                self._bigrams.setdefault(codes[k : k + 2], []).append(f_idx)
            if len(codes) == 1:
                self._bigrams.setdefault(codes, []).append(f_idx)
        self._town_forms = [i for i, f in enumerate(forms) if f.kind in (TOWNSHIP, COUNTY)]
        self._name_count: dict[str, int] = {}
        for loc in self.localities:
            self._name_count[loc.name] = self._name_count.get(loc.name, 0) + 1
        self._name_forms = [i for i, f in enumerate(forms) if f.kind in (LOCALITY, PLACE)]
        self._name_letters = [forms[i].spelled.letters for i in self._name_forms]
        self._township_forms: dict[int, list[int]] = {}
        for i, f in enumerate(forms):
            if f.kind == LOCALITY:
                town = self.localities[f.entity].township
                if town is not None:
                    self._township_forms.setdefault(town, []).append(i)
        self._cache: dict[str, tuple[AddressHit, ...]] = {}
        # per name part: a storm's callers on one street or in one village write their own
        # house numbers after the same name
        self._names: dict[tuple[str, bool], tuple[NameMatch | None, list[NameMatch]]] = {}

    # -- matching ---------------------------------------------------------------------------

    def _score(self, form: Form, q: Spelled) -> tuple[float, str, tuple[int, int]]:
        """How well a form matches inside the query's name part (0..100), and where.

        A form shorter than the query is looked for inside it (the query carries a township,
        markers, a landmark word); a longer form is compared whole, so that 张庄 does not
        fully match 张庄集."""
        fs = form.spelled
        n_q = len(q.codes) - q.codes.count(BLANK)
        if not n_q:
            return 0.0, "", (0, 0)
        longer = len(fs.codes) > n_q
        if longer:
            syl = fuzz.ratio(fs.codes, q.codes.replace(BLANK, ""))
            span = (0, len(q.codes))
        else:
            al = fuzz.partial_ratio_alignment(fs.codes, q.codes)
            if al is None:
                return 0.0, "", (0, 0)
            syl = al.score
            span = (al.dest_start, al.dest_end)
        let = 0.0
        if syl < 100:
            # a near-homophone or a pinyin slip: a letter or two off (孙 sun typed suan)
            edits = _letter_edits(fs.letters, q.letters, longer)
            if edits <= max(1, len(fs.letters) // 6):
                let = 100.0 - 10.0 * edits
        sound = max(syl, let)
        if q.chars and fs.chars:
            if longer:
                chars = fuzz.ratio(fs.chars, q.chars.replace("\u3000", ""))
            else:
                chars = fuzz.partial_ratio(fs.chars, q.chars) if sound >= 50 else 0.0
            score = 0.75 * sound + 0.25 * chars
            if chars >= 100:
                how = "characters"
            elif syl >= 100:
                how = "pinyin"
            elif let > syl:
                how = "pinyin letters"
            else:
                how = "characters, typo"
        else:
            score = sound
            how = "pinyin" if syl >= let else "pinyin letters"
        return score, how, span

    def _candidates(self, q: Spelled) -> set[int]:
        """Forms sharing a syllable pair with the query (a homophone keeps its syllables)."""
        codes = q.codes
        found: set[int] = set()
        for k in range(len(codes) - 1):
            posting = self._bigrams.get(codes[k : k + 2])
            if posting is not None:
                found.update(posting)
        return found

    def _by_letters(self, q: Spelled, limit: int = 12) -> list[int]:
        """Forms nearest in pinyin letters: the way back from a typo that changed a syllable
        (heizhuang for hezhuang, 张床 for 张庄). Scans every name, in C++."""
        hits = process.extract(
            q.letters, self._name_letters, scorer=fuzz.partial_ratio, limit=limit, score_cutoff=70
        )
        return [self._name_forms[i] for _c, _s, i in hits]

    def match_names(
        self, q: Spelled, numbered: bool = False
    ) -> tuple[NameMatch | None, list[NameMatch]]:
        """The township (or county) the text names, if any, and the localities and places it
        may name, best first. With group or house numbers (``numbered``), text that only
        names a township may still name its seat village, where the numbers are."""
        town: NameMatch | None = None
        q_codes = set(q.codes)
        for f_idx in self._town_forms:
            f = self.forms[f_idx]
            if q_codes.isdisjoint(f.spelled.codes):
                continue  # shares no syllable: cannot reach 80
            s, how, span = self._score(f, q)
            if s >= 80 and (
                town is None
                or s > town.score
                or (s == town.score and f.kind == TOWNSHIP and town.kind == COUNTY)
            ):
                town = NameMatch(f.kind, f.entity, s, f.text, how, span)
        rest = q
        town_codes: set[str] = set()
        if town is not None:
            start, stop = town.span
            # the marker after the name (镇, 乡, 县) belongs to it
            while q.chars and stop < len(q.codes) and q.chars[stop] in TOWN_MARKERS:
                stop += 1
            if all(c == BLANK for c in q.codes[:start] + q.codes[stop:]):
                if not numbered:
                    return town, []
            else:
                rest = q.blank(start, stop)
                town_codes = set(q.codes[start:stop])
        # Text left beside the township: a village name is there (its match must not reuse
        # the township's text), or only markers (the seat village may be named like it).
        left = sum(
            1
            for c, ch in zip(rest.codes, rest.chars or " " * len(rest.codes), strict=True)
            if c != BLANK and ch not in "村组号"
        )
        reuse_penalty = 2.0 if left < 2 else 25.0
        out: dict[tuple[int, int], NameMatch] = {}
        forms = self.forms

        content_rest = _content(rest)
        content_q = _content(q) if rest is not q else content_rest

        def consider(f_idx: int) -> None:
            f = forms[f_idx]
            if f.kind not in (LOCALITY, PLACE):
                return
            s, how, span = self._score(f, rest)
            content = content_rest
            if town_codes and s < 100 and not town_codes.isdisjoint(f.spelled.codes):
                # the name may contain the township's own text (三义寨村 in 三义寨乡)
                s_full, how_full, span_full = self._score(f, q)
                if s_full - reuse_penalty > s:
                    s, how, span = s_full - reuse_penalty, how_full, span_full
                    content = content_q
            if f.alias:
                s -= 1.0  # the official name wins a tie
            key = (f.kind, f.entity)
            # Rank: a longer name that explains more of the text beats a shorter one inside
            # it (南王集 over 王集 for 难王集村), even when it matched only by sound.
            unexplained = sum(1 for i in content if not span[0] <= i < span[1])
            rank = s + 0.5 * min(len(f.spelled.codes), 6) - 8.0 * unexplained
            if s >= 45 and (key not in out or rank > out[key].rank):
                out[key] = NameMatch(f.kind, f.entity, s, f.text, how, span, rank)

        def best() -> float:
            return max((m.score for m in out.values()), default=0.0)

        for f_idx in self._candidates(rest):
            consider(f_idx)
        if rest is not q and best() < 90:
            for f_idx in self._candidates(q):
                consider(f_idx)
        if best() < 80:
            for f_idx in self._by_letters(rest):
                consider(f_idx)
            if town is not None and town.kind == TOWNSHIP:
                # a typo that changed a syllable: the township's own villages, whose group and
                # house numbers then tell them apart
                for f_idx in self._township_forms.get(town.entity, ()):
                    consider(f_idx)
        ranked = sorted(out.values(), key=lambda m: -m.rank)
        return town, ranked[:12]

    def clear_cache(self) -> None:
        self._cache.clear()
        self._names.clear()

    def lookup(self, text: str) -> tuple[AddressHit, ...]:
        """Ranked places an address may mean (cached per text)."""
        hit = self._cache.get(text)
        if hit is None:
            hit = self._lookup(parse_address(text))
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[text] = hit
        return hit

    def _lookup(self, q: AddressQuery) -> tuple[AddressHit, ...]:
        if not q.name:
            return ()
        exact = self._exact.get(q.name)
        hits: list[AddressHit] = []
        if exact is not None and len(exact) == 1:
            hits.extend(self._at_locality(exact[0], q, 100.0, 0.0, "exact", None, q.name))
            if hits and hits[0].level in ("house", "group"):
                return tuple(hits)
        name = (q.name, bool(q.group or q.house or q.bare))
        found = self._names.get(name)
        if found is None:
            found = self.match_names(spell(name[0]), name[1])
            if len(self._names) > 100_000:
                self._names.clear()
            self._names[name] = found
        town, names = found
        for m in names:
            if m.kind == LOCALITY:
                loc = self.localities[m.entity]
                bonus = 0.0
                if town is not None and town.kind == TOWNSHIP:
                    if loc.township == town.entity:
                        bonus = 6.0
                    elif loc.township is not None and not _overlaps(town.span, m.span):
                        bonus = -15.0
                hits.extend(
                    self._at_locality(
                        m.entity, q, m.score, bonus + m.rank - m.score, m.how, town, m.form
                    )
                )
            else:
                place = self.places[m.entity]
                bonus = 0.0
                if town is not None and town.kind == TOWNSHIP and place.township is not None:
                    if place.township == town.entity:
                        bonus = 6.0
                    elif not _overlaps(town.span, m.span):
                        bonus = -15.0
                ev = f"address matched place {place.name} ({m.how}, {m.score:.0f}%)"
                hits.append(
                    AddressHit(
                        m.rank + bonus - 2.0,
                        "place",
                        _EMPTY,
                        place.lon,
                        place.lat,
                        place.name,
                        (ev,),
                        place.admin_id,
                        m.score,
                    )
                )
        if town is not None:
            area = (
                self.townships[town.entity] if town.kind == TOWNSHIP else self.counties[town.entity]
            )
            if area.centre is not None:
                level = "township" if town.kind == TOWNSHIP else "county"
                ev = f"address matched {level} {area.name} ({town.how}, {town.score:.0f}%)"
                hits.append(
                    AddressHit(
                        town.score - 40.0,
                        level,
                        _EMPTY,
                        area.centre[0],
                        area.centre[1],
                        area.name,
                        (ev,),
                        area.admin_id,
                        town.score,
                    )
                )
        best: dict[tuple[str, str], AddressHit] = {}
        for h in hits:
            key = (h.level, h.label)
            if key not in best or h.score > best[key].score:
                best[key] = h
        return tuple(sorted(best.values(), key=lambda h: -h.score))

    def _at_locality(
        self,
        li: int,
        q: AddressQuery,
        name_score: float,
        bonus: float,
        how: str,
        town: NameMatch | None,
        form: str,
    ) -> list[AddressHit]:
        """Hits inside one locality: the house, else the group, else the locality itself.
        Whether the group and house exist there is evidence for the locality."""
        loc = self.localities[li]
        rank = name_score + bonus
        where = self._display(li)
        matched = f"address matched {where}"
        if how != "exact":
            matched += (
                f" ({how}"
                + (f" via {form}" if form and form not in where else "")
                + f", {name_score:.0f}%)"
            )
        if town is not None and town.kind == TOWNSHIP and loc.township == town.entity:
            matched += " in " + self.townships[town.entity].name
        word = loc.group_word or q.group_word or "组"
        said_group = f"{q.group}{q.group_word or word}" if q.group else ""
        gid = self._group_ids.get(q.group) if q.group else None
        hid = self._house_ids.get(q.house) if q.house else None
        keys = self._keys
        if q.house is not None and hid is not None:
            if gid is not None or q.group is None:
                # the house in its group; without a group said, a house on the street itself
                k = (li << (_G_BITS + _H_BITS)) | ((gid or 0) << _H_BITS) | hid
                rows = _range(keys.keys, keys.rows, k, k + 1)
                if len(rows):
                    label = f"{where} {said_group + ' ' if said_group else ''}{q.house}号"
                    return [
                        self._hit(
                            rank + 10,
                            "house",
                            rows,
                            label,
                            (f"{matched} {said_group + ' ' if said_group else ''}{q.house}号",),
                            loc.admin_id,
                            name_score,
                        )
                    ]
            k = (li << _H_BITS) | hid
            rows = _range(keys.house_keys, keys.house_rows, k, k + 1)
            if len(rows):
                note = f"{matched} {q.house}号"
                penalty = 0.0
                if q.group is not None:
                    note += f" (no {said_group} {q.house}号 there; the number is in other {word}s)"
                    penalty = 6.0
                by_group = self._split_by_group(rows)
                share = 1.0 / len(by_group)
                out: list[AddressHit] = []
                for g, grows in by_group.items():
                    gname = self._group_names.get(g, "")
                    label = f"{where} {gname + word + ' ' if gname else ''}{q.house}号"
                    out.append(
                        self._hit(
                            rank + 8 - penalty - 4 * (1 - share),
                            "house",
                            grows,
                            label,
                            (note,),
                            loc.admin_id,
                            name_score,
                        )
                    )
                return out
        if q.group is not None and gid is not None:
            rows = self._group_rows(li, gid)
            if len(rows):
                note = f"{matched} {said_group}"
                if q.house is not None:
                    note += f" (no {q.house}号 in it)"
                return [
                    self._hit(
                        rank + 4,
                        "group",
                        rows,
                        f"{where} {said_group}",
                        (note,),
                        loc.admin_id,
                        name_score,
                    )
                ]
        if q.bare and q.group is None and q.house is None:
            # one bare number: a house number more often than a group, but a house number
            # found in many groups says less than a group that is there
            num = q.bare[0]
            out = []
            h2 = self._house_ids.get(num)
            if h2 is not None:
                k = (li << _H_BITS) | h2
                rows = _range(keys.house_keys, keys.house_rows, k, k + 1)
                if len(rows):
                    for g, grows in self._split_by_group(rows).items():
                        gname = self._group_names.get(g, "")
                        label = f"{where} {gname + word + ' ' if gname else ''}{num}号"
                        out.append(
                            self._hit(
                                rank + 3,
                                "house",
                                grows,
                                label,
                                (f"{matched} {num} (read as {num}号)",),
                                loc.admin_id,
                                name_score,
                            )
                        )
            g2 = self._group_ids.get(num)
            if g2 is not None:
                rows = self._group_rows(li, g2)
                if len(rows):
                    # each house reading weighs 1.5 times the group reading, over as many
                    # groups as hold the house (hit weights go as exp(score / 4))
                    score = rank + 3 + 4 * math.log(len(out) / 1.5) if out else rank + 4
                    out.append(
                        self._hit(
                            score,
                            "group",
                            rows,
                            f"{where} {num}{word}",
                            (f"{matched} {num} (read as {num}{word})",),
                            loc.admin_id,
                            name_score,
                        )
                    )
            if out:
                return out
        k0 = li << (_G_BITS + _H_BITS)
        rows = _range(keys.keys, keys.rows, k0, k0 + (1 << (_G_BITS + _H_BITS)))
        missing = [x for x in (said_group, f"{q.house}号" if q.house else "") if x]
        note = matched + (f" (no {' '.join(missing)} there)" if missing else "")
        penalty = 10.0 if missing else 0.0
        if len(rows) or loc.centre is not None:
            if loc.centre is not None:
                lon, lat = loc.centre
            else:
                lon, lat = float(self.sp_lon[rows].mean()), float(self.sp_lat[rows].mean())
            return [
                AddressHit(
                    rank - penalty,
                    "locality",
                    rows,
                    lon,
                    lat,
                    where,
                    (note,),
                    loc.admin_id,
                    name_score,
                )
            ]
        return []

    def _group_rows(self, li: int, gid: int) -> IntArray:
        """The service points of one group (组, street) of a locality."""
        k0 = (li << (_G_BITS + _H_BITS)) | (gid << _H_BITS)
        return _range(self._keys.keys, self._keys.rows, k0, k0 + (1 << _H_BITS))

    def _split_by_group(self, rows: IntArray) -> dict[int, IntArray]:
        groups = self._group_of_row[rows]
        if len(rows) == 1:
            return {int(groups[0]): rows}
        out: dict[int, IntArray] = {}
        for g in np.unique(groups).tolist():
            out[int(g)] = rows[groups == g]
        return out

    def _hit(
        self,
        score: float,
        level: str,
        rows: IntArray,
        label: str,
        evidence: tuple[str, ...],
        admin_id: str | None,
        name_score: float,
    ) -> AddressHit:
        if len(rows) == 1:
            lon, lat = float(self.sp_lon[rows[0]]), float(self.sp_lat[rows[0]])
        else:
            lon, lat = float(self.sp_lon[rows].mean()), float(self.sp_lat[rows].mean())
        return AddressHit(score, level, rows, lon, lat, label, evidence, admin_id, name_score)

    def _display(self, li: int) -> str:
        """The locality's name, with its township when another locality shares the name."""
        loc = self.localities[li]
        if self._name_count.get(loc.name, 0) > 1 and loc.township is not None:
            return self.townships[loc.township].name + loc.name
        return loc.name


_EMPTY: IntArray = np.zeros(0, dtype=np.int64)


def _range(keys: npt.NDArray[np.int64], rows: IntArray, lo: int, hi: int) -> IntArray:
    i = int(np.searchsorted(keys, lo, side="left"))
    j = int(np.searchsorted(keys, hi, side="left"))
    return rows[i:j]


def _letter_edits(name: str, text: str, whole: bool) -> int:
    """Letter edits between a name's pinyin and the best-matching stretch of the text's
    (the stretch may be a letter longer or shorter than the name: an inserted letter)."""
    if whole or len(text) <= len(name):
        return int(Levenshtein.distance(name, text, score_cutoff=3))
    al = fuzz.partial_ratio_alignment(name, text)
    if al is None:
        return 3
    best = 3
    n = len(name)
    for start in (al.dest_start - 1, al.dest_start, al.dest_start + 1):
        for length in (n - 1, n, n + 1):
            if start < 0 or start + length > len(text):
                continue
            best = min(
                best, Levenshtein.distance(name, text[start : start + length], score_cutoff=3)
            )
    return best


MARKERS = frozenset("村镇乡组号社区县市队巷")
MARKER_SYLLABLES = frozenset({"cun", "zhen", "xiang", "zu", "hao", "dui", "shequ", "she", "qu"})


def _content(q: Spelled) -> list[int]:
    """Positions of the units that name something (not blanked, not a marker like 村)."""
    chars = q.chars
    out = []
    for i, (c, u) in enumerate(zip(q.codes, q.units, strict=True)):
        if c == BLANK:
            continue
        if (chars[i] in MARKERS) if chars else (u in MARKER_SYLLABLES):
            continue
        out.append(i)
    return out


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _clean(text: str) -> str:
    return _NOT_NAME.sub("", nfkc(text).lower())


def _names_area(place: Place, area_name: str, suffixes: tuple[str, ...]) -> bool:
    """Whether a gazetteer entry is the area itself (its aliases are the area's), rather
    than a landmark inside it."""
    kind = (place.kind or "").lower()
    if kind in AREA_KINDS:
        return True
    return strip_suffix(_clean(place.name), suffixes) == strip_suffix(_clean(area_name), suffixes)


def _centre(geom: Any) -> tuple[float, float] | None:
    if geom is None or geom.is_empty:
        return None
    if geom.geom_type == "Point":
        return float(geom.x), float(geom.y)
    c = geom.centroid
    if not geom.contains(c):
        c = geom.representative_point()
    return float(c.x), float(c.y)
