"""Calls located per second and share located right, by method, beside naive baselines.

``python -m bench.bench_locate [--scale S] [--calls N] [--seed K] [--synthetic]``

Builds the demo county (:mod:`layers.demo.county`; a synthetic grid when it is not there),
imports it as ``gridcall layers import`` would, builds the :class:`~outages.locate.Locator`,
and generates calls of each kind from known truth, the way callers and agents garble them:

* account numbers read out with spaces, dashes, full-width digits, a ``户号：`` label;
* pole labels in the spoken forms (``城关Ⅰ线45号杆``, ``城关1线 45``, ``城关一线第45基``,
  ``10kV城关Ⅰ线45#``, a homophone in the line name, ``45号杆`` with the caller's village);
* phone positions 10-300 m off the caller's meter (log-uniform), half of them GCJ-02, some
  CGCS2000, a few with lon/lat swapped;
* addresses with homophones, typos, missing township, 村, group or house number, Chinese
  numerals, aliases and plain pinyin.

For each method it prints calls per second on one core (the best of three passes, each
starting with the locator's caches cleared, so that other processes on a shared machine
disturb the figure less while no pass profits from an earlier one), the share with the right
transformer (the right pole for pole labels), how often the truth is among the candidates,
and the mean confidence of right and of wrong answers; beside a baseline measured in the same
run: exact string lookups for accounts, pole labels and addresses, and the nearest service
point with the coordinates taken as given for phone positions.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import re
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from rapidfuzz.distance import Levenshtein
from scipy.spatial import cKDTree

from gis.crs import wgs84_to_gcj02
from layers.grid import GridData
from layers.network import NetworkModel
from outages.calls import Call, CoordSys
from outages.locate import Locator
from outages.locate.text import common_characters, is_cjk, pinyin_units

NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
CN_SMALL = "零一二三四五六七八九"
ROMAN_TO_INT = {"Ⅰ": 1, "Ⅱ": 2, "Ⅲ": 3, "Ⅳ": 4, "Ⅴ": 5, "Ⅵ": 6}


@dataclass
class Case:
    call: Call
    truth: str  # transformer id (pole id for pole calls)
    kind: str = ""  # a label for the breakdown (noise, error band, ...)
    extra: dict[str, Any] = field(default_factory=dict)


# -- the grid --------------------------------------------------------------------------------


def load_grid(scale: float, seed: int, synthetic: bool) -> tuple[GridData, NetworkModel, str]:
    from layers.importer import prepare

    tmp = Path(tempfile.mkdtemp(prefix="bench_locate_"))
    if not synthetic:
        try:
            from layers.demo.county import write_county
        except ImportError:
            synthetic = True
    if synthetic:
        from layers.synthetic import synthetic_grid

        feeders = max(2, round(12 * scale))
        g = synthetic_grid(
            seed,
            substations=max(1, feeders // 6),
            feeders_per_bus=6,
            sections_per_feeder=40,
            transformers_per_feeder=12,
            service_points_per_transformer=40,
        )
        path = g.write(tmp / "grid.gpkg")
        what = "synthetic grid"
    else:
        path = tmp / "county.gpkg"
        write_county(path, seed=seed, scale=scale)
        what = f"demo county scale {scale:g}"
    data, model, problems = prepare(path)
    errors = [p for p in problems if p.severity == "error"]
    if data is None or model is None or errors:
        raise SystemExit(f"the grid did not import: {errors[:5]}")
    return data, model, what


# -- noise ------------------------------------------------------------------------------------


def homophone(rng: np.random.Generator, text: str, positions: list[int] | None = None) -> str:
    """One character replaced by another that an input method offers for the same pinyin."""
    table = common_characters()
    idx = positions if positions is not None else [i for i, c in enumerate(text) if is_cjk(c)]
    for i in rng.permutation(idx).tolist() if idx else []:
        syl = pinyin_units(text[i])[0]
        options = [c for c in table.get(syl, ()) if c != text[i]]
        if options:
            return text[:i] + options[int(rng.integers(len(options)))] + text[i + 1 :]
    return text


def typo(rng: np.random.Generator, text: str, positions: list[int]) -> str:
    """A slip on the pinyin keyboard: one character replaced by a common character whose
    pinyin is one letter off (李 li -> 尼 ni, 庄 zhuang -> 壮 zhuang's neighbour 装 ...)."""
    table = common_characters()
    for i in rng.permutation(positions).tolist() if positions else []:
        syl = pinyin_units(text[i])[0]
        near = [s for s in table if s != syl and Levenshtein.distance(s, syl) == 1]
        if near:
            chars = table[near[int(rng.integers(len(near)))]]
            return text[:i] + chars[int(rng.integers(len(chars)))] + text[i + 1 :]
    return text


def wrong_char(rng: np.random.Generator, text: str, positions: list[int]) -> str:
    """One character replaced by an unrelated common character (a wrong pick, rare)."""
    table = common_characters()
    syls = list(table)
    if not positions:
        return text
    i = int(rng.choice(positions))
    while True:
        syl = syls[int(rng.integers(len(syls)))]
        if syl != pinyin_units(text[i])[0]:
            chars = table[syl]
            return text[:i] + chars[int(rng.integers(len(chars)))] + text[i + 1 :]


def cn_number(n: int) -> str:
    if n < 10:
        return CN_SMALL[n]
    if n < 20:
        return "十" + (CN_SMALL[n % 10] if n % 10 else "")
    if n < 100:
        return CN_SMALL[n // 10] + "十" + (CN_SMALL[n % 10] if n % 10 else "")
    return "".join(CN_SMALL[int(d)] for d in str(n))


def to_pinyin(text: str) -> str:
    out = []
    for tok in re.findall(r"[\u4e00-\u9fff]+|\d+", text):
        out.append("".join(pinyin_units(tok)) if is_cjk(tok[0]) else tok)
    return " ".join(out)


# -- generators -------------------------------------------------------------------------------


def account_cases(data: GridData, rng: np.random.Generator, n: int) -> list[Case]:
    sps = data.layer("service_points")
    rows = rng.integers(len(sps), size=n)
    acc = sps["account_no"].tolist()
    trs = sps["transformer_id"].tolist()
    out = []
    for k, r in enumerate(rows.tolist()):
        a = str(acc[r])
        style = int(rng.integers(6))
        if style == 1:
            text = " ".join(a[i : i + 4] for i in range(0, len(a), 4))
        elif style == 2:
            text = f"{a[:2]}-{a[2:6]}-{a[6:]}"
        elif style == 3:
            text = a.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
        elif style == 4:
            text = f"户号：{a}"
        elif style == 5:
            text = f"  {a[:3]} {a[3:]} "
        else:
            text = a
        out.append(Case(Call(f"a{k}", NOW, account_no=text), str(trs[r]), f"style {style}"))
    return out


def pole_cases(data: GridData, locator: Locator, rng: np.random.Generator, n: int) -> list[Case]:
    poles = data.layer("poles")
    names = poles["line_name"].tolist()
    numbers = poles["number"].tolist()
    ids = poles["id"].tolist()
    out = []
    for k in range(n):
        r = int(rng.integers(len(poles)))
        line = str(names[r])
        feeder = locator.pole_feeder[r] or line
        if feeder != line and rng.random() < 0.5:
            line = feeder  # a branch pole's number said with its feeder's name
        number = str(numbers[r])
        kind = []
        if rng.random() < 0.5:
            line = re.sub(r"^\d+kV", "", line)
        roman = next((c for c in line if c in ROMAN_TO_INT), None)
        if roman is not None:
            u = rng.random()
            if u < 0.3:
                line = line.replace(roman, str(ROMAN_TO_INT[roman]), 1)
                kind.append("arabic")
            elif u < 0.55:
                line = line.replace(roman, CN_SMALL[ROMAN_TO_INT[roman]], 1)
                kind.append("chinese")
        if rng.random() < 0.2:
            stem_end = next(
                (i for i, c in enumerate(line) if c in "Ⅰ线ⅡⅢⅣ123456一二三四五六"), len(line)
            )
            cjk = [i for i in range(stem_end) if is_cjk(line[i])]
            line = homophone(rng, line, cjk)
            kind.append("homophone")
        if rng.random() < 0.15 and "线" in line:
            line = line.replace("线", " ", 1).strip() + " "
            kind.append("no 线")
        u = rng.random()
        if "-" not in number and number.isdigit() and int(number) < 100 and u < 0.15:
            said = f"{cn_number(int(number))}号杆"
        elif u < 0.35:
            said = f"{number}号杆"
        elif u < 0.5:
            said = f"{number}#"
        elif u < 0.65:
            said = f"第{number}基"
        elif u < 0.8:
            said = f" {number}"
        else:
            said = f"{number}号"
        if line[-1:].isascii() and line[-1:].isalnum() and not said.startswith(" "):
            said = " " + said  # Feeder 3 12号: the line's own digit must not run on
        address = None
        if rng.random() < 0.15:
            # only the number, and the caller's village
            _d, i = locator.positions.nearest_sps(
                float(locator.pole_lon[r]), float(locator.pole_lat[r]), 1
            )
            addr = data.layer("service_points")["address"].iat[int(i[0])]
            m = re.match(r"^(.+?(?:村|社区|路|街|大道))", str(addr or ""))
            if m:
                address = m.group(1)
                text = f"{number}号杆"
                kind = ["number and area only"]
            else:
                text = line + said
        else:
            text = line + said
        out.append(
            Case(
                Call(f"p{k}", NOW, pole_no=text, address=address),
                str(ids[r]),
                ", ".join(kind) or "plain",
                {"feeder": locator.pole_feeder[r]},
            )
        )
    return out


def interleaved(locator: Locator, rows: np.ndarray, k: int = 5) -> np.ndarray:
    """Whether another transformer's meter is among each meter's ``k`` nearest neighbours:
    the houses of two low-voltage networks interleave there."""
    tree = locator.positions.sp_tree
    assert tree is not None
    _d, near = tree.query(locator.positions.sp_xy[rows], k=k + 1)
    return np.asarray((locator.sp_tr[near[:, 1:]] != locator.sp_tr[rows][:, None]).any(axis=1))


BANDS = ((20.0, "10-20 m"), (50.0, "20-50 m"), (150.0, "50-150 m"), (300.0, "150-300 m"))


def band_of(err: float) -> str:
    """The error band a phone position's error falls in."""
    return next((name for top, name in BANDS if err < top), "300-600 m")


def phone_error(rng: np.random.Generator, errors: str) -> float:
    """Metres between a phone's fix and the caller's meter: ``loguniform`` 10-300 m (as
    many fixes in each decade), or ``simulator``, the storm simulator's distribution
    (:mod:`outages.callers`: lognormal, median 35 m, sigma 0.8, capped at 600 m)."""
    if errors == "simulator":
        return min(float(rng.lognormal(math.log(35.0), 0.8)), 600.0)
    return math.exp(rng.uniform(math.log(10), math.log(300)))


def gps_cases(
    data: GridData,
    locator: Locator,
    rng: np.random.Generator,
    n: int,
    *,
    errors: str = "loguniform",
    with_address: bool = False,
) -> list[Case]:
    """Phone positions off the caller's meter, half GCJ-02; with ``with_address`` the call
    also carries the caller's address as the agent typed it (the noise of
    :func:`say_address`)."""
    sps = data.layer("service_points")
    addresses = sps["address"].tolist()
    if with_address:
        has = np.flatnonzero(np.asarray([bool(a) for a in addresses]))
        rows = has[rng.integers(len(has), size=n)]
    else:
        rows = rng.integers(len(sps), size=n)
    aliases = address_aliases(data) if with_address else {}
    trs = sps["transformer_id"].tolist()
    plane = locator.plane
    mixed = interleaved(locator, rows)
    prefix = ("ga" if with_address else "g") + ("s" if errors == "simulator" else "")
    out = []
    for k, r in enumerate(rows.tolist()):
        err = phone_error(rng, errors)
        ang = rng.uniform(0, 2 * math.pi)
        x, y = plane.xy(float(locator.sp_lon[r]), float(locator.sp_lat[r]))
        lon, lat = plane.lonlat(x + err * math.cos(ang), y + err * math.sin(ang))
        u = rng.random()
        cs = CoordSys.WGS84
        if u < 0.5:
            lon, lat = wgs84_to_gcj02(lon, lat)
            cs = CoordSys.GCJ02
        elif u < 0.6:
            cs = CoordSys.CGCS2000
        swapped = rng.random() < 0.03
        if swapped:
            lon, lat = lat, lon
        extra: dict[str, Any] = {"interleaved": bool(mixed[k]), "sp": r, "swapped": swapped}
        address = None
        if with_address:
            address, extra["noise"] = say_address(rng, str(addresses[r]), aliases)
        out.append(
            Case(
                Call(f"{prefix}{k}", NOW, lon=lon, lat=lat, coord_sys=cs, address=address),
                str(trs[r]),
                band_of(err),
                extra,
            )
        )
    return out


_RURAL = re.compile(r"^(.+?(?:镇|乡))(.+?)(村|社区)(\d+)组(\d+)号$")
_URBAN = re.compile(r"^(.+?(?:镇|乡))(.+?(?:路|街|大道))(?:(\d+)巷)?(\d+)号$")


def address_aliases(data: GridData) -> dict[str, list[str]]:
    """The gazetteer's other names of each village (bare, without 村/社区)."""
    aliases: dict[str, list[str]] = {}
    places = data.layer("places")
    for name, al, kind in zip(
        places["name"].tolist(),
        places["aliases"].tolist() if len(places) else [],
        places["kind"].tolist() if len(places) else [],
        strict=True,
    ):
        if kind in ("village", "community") and al:
            bare = re.sub(r"(村|社区)$", "", str(name))
            aliases[bare] = [a for a in str(al).split(";") if a and a != bare]
    return aliases


def say_address(
    rng: np.random.Generator, addr: str, aliases: dict[str, list[str]]
) -> tuple[str, str]:
    """An address as the agent types it (homophones, typos, missing parts, pinyin), and
    what was done to it (``clean`` for nothing)."""
    kinds: list[str] = []
    m = _RURAL.match(str(addr))
    word = "组" if m else "巷"  # villager groups in villages, lanes off a street
    if m:
        town, village, suffix, group, house = m.groups()
    else:
        m2 = _URBAN.match(str(addr))
        if not m2:
            # an address the generator cannot take apart (a synthetic grid's English):
            # as typed, in another case and spacing
            said = " ".join(str(addr).lower().split()) if rng.random() < 0.5 else str(addr)
            return said, "clean"
        town, village, lane, house = m2.groups()
        suffix, group = "", lane
    if rng.random() < 0.35:
        town = ""
        kinds.append("no township")
    if aliases.get(village) and rng.random() < 0.1:
        village = aliases[village][int(rng.integers(len(aliases[village])))]
        suffix = ""
        kinds.append("alias")
    if suffix and rng.random() < 0.2:
        suffix = ""
        kinds.append("no 村")
    cjk = [i for i, c in enumerate(village) if is_cjk(c)]
    u = rng.random()
    if u < 0.45:
        village = homophone(rng, village)
        kinds.append("homophone")
    elif u < 0.6:
        village = typo(rng, village, cjk)
        kinds.append("typo")
    elif u < 0.63:
        village = wrong_char(rng, village, cjk)
        kinds.append("wrong character")
    if town and rng.random() < 0.2:
        town = homophone(rng, town)
        kinds.append("township homophone")
    g_text = ""
    if group is not None:
        if word == "组" and rng.random() < 0.07:
            # (a lane dropped from a street address names another, real house: not noise)
            kinds.append("no group")
        elif rng.random() < 0.25:
            g_text = f"{cn_number(int(group))}{word}"
            kinds.append("三组")
        else:
            g_text = f"{group}{word}"
    h_text = f"{house}号"
    if rng.random() < 0.05:
        h_text = ""
        kinds.append("no house number")
    text = f"{town}{village}{suffix}{g_text}{h_text}"
    if rng.random() < 0.08:
        text = (
            to_pinyin(f"{town}{village}{suffix}")
            + (f" {group} {'zu' if word == '组' else 'xiang'}" if g_text else "")
            + (f" {house} hao" if h_text else "")
        )
        kinds.append("pinyin")
    elif rng.random() < 0.1:
        text = text.replace("组", "组 ")
    return text, ", ".join(kinds) or "clean"


def address_cases(data: GridData, rng: np.random.Generator, n: int) -> list[Case]:
    sps = data.layer("service_points")
    addresses = sps["address"].tolist()
    trs = sps["transformer_id"].tolist()
    aliases = address_aliases(data)
    out: list[Case] = []
    tries = 0
    while len(out) < n and tries < 20 * n:
        tries += 1
        r = int(rng.integers(len(sps)))
        addr = addresses[r]
        if not addr:
            continue
        text, kind = say_address(rng, str(addr), aliases)
        out.append(Case(Call(f"d{len(out)}", NOW, address=text), str(trs[r]), kind, {"true": addr}))
    return out


def noise_class(kind: str) -> str:
    """The address noise of a case in three classes."""
    if kind == "clean":
        return "clean"
    if set(kind.split(", ")) <= {
        "homophone",
        "typo",
        "township homophone",
        "no township",
        "no 村",
        "三组",
        "alias",
    }:
        return "homophone/typo only"
    return "missing parts or pinyin"


# -- baselines --------------------------------------------------------------------------------


def baseline_account(data: GridData) -> Callable[[Call], str | None]:
    sps = data.layer("service_points")
    index = dict(zip(sps["account_no"].tolist(), sps["transformer_id"].tolist(), strict=True))
    return lambda call: index.get(call.account_no or "")


def baseline_pole(data: GridData) -> Callable[[Call], str | None]:
    poles = data.layer("poles")
    index = {
        f"{n}{k}号杆": i
        for n, k, i in zip(
            poles["line_name"].tolist(), poles["number"].tolist(), poles["id"].tolist(), strict=True
        )
    }
    return lambda call: index.get(call.pole_no or "")


def baseline_gps(data: GridData, locator: Locator) -> Callable[[Call], str | None]:
    plane = locator.plane
    tree = cKDTree(np.column_stack(plane.xy_arrays(locator.sp_lon, locator.sp_lat)))
    trs = data.layer("service_points")["transformer_id"].tolist()

    def find(call: Call) -> str | None:
        assert call.lon is not None and call.lat is not None
        _d, i = tree.query(plane.xy(call.lon, call.lat), k=1)
        return str(trs[int(i)])

    return find


def oracle_gps(locator: Locator, errors: str) -> Callable[[Call], str | None]:
    """The most likely transformer given the position and the error law the cases were
    really drawn with (which the locator does not know), summed over every meter within
    reach: how far the position alone can go on this grid, the bound for the locator's
    position-only figures."""
    from outages.locate.position import gcj_to_wgs

    pos = locator.positions
    assert pos.sp_tree is not None
    tree = pos.sp_tree
    n_tr = len(locator.tr_ids)
    reach = 300.0 if errors == "loguniform" else 600.0

    def density(d: np.ndarray) -> np.ndarray:
        # the radius's density over the circumference 2 pi d it is spread on
        if errors == "loguniform":
            return np.where((d >= 10.0) & (d < 300.0), 1.0 / np.maximum(d, 10.0) ** 2, 0.0)
        r = np.maximum(d, 0.1)
        z = (np.log(r) - math.log(35.0)) / 0.8
        return np.asarray(np.exp(-0.5 * z * z) / (r * r))

    def find(call: Call) -> str | None:
        assert call.lon is not None and call.lat is not None
        best: tuple[float, str | None] = (0.0, None)
        pairs = [(call.lon, call.lat), (call.lat, call.lon)]  # the locator unswaps too
        for a, b in pairs:
            lon, lat = gcj_to_wgs(a, b) if call.coord_sys == CoordSys.GCJ02 else (a, b)
            x, y = locator.plane.xy(lon, lat)
            rows = np.asarray(tree.query_ball_point((x, y), reach), dtype=np.int64)
            if not len(rows):
                continue
            d = np.hypot(pos.sp_xy[rows, 0] - x, pos.sp_xy[rows, 1] - y)
            ok = locator.sp_tr[rows] >= 0
            s = np.bincount(locator.sp_tr[rows][ok], weights=density(d)[ok], minlength=n_tr)
            t = int(np.argmax(s))
            if s[t] > best[0]:
                best = (float(s[t]), locator.tr_ids[t])
        return best[1]

    return find


def baseline_address(data: GridData) -> Callable[[Call], str | None]:
    sps = data.layer("service_points")
    index = dict(zip(sps["address"].tolist(), sps["transformer_id"].tolist(), strict=True))
    return lambda call: index.get(call.address or "")


# -- running ----------------------------------------------------------------------------------


def run(
    name: str,
    cases: list[Case],
    locate: Callable[[Call], Any],
    answer: Callable[[Any], str | None],
    baseline: Callable[[Call], str | None],
    by: Callable[[Case], str] | None = None,
    *,
    clear: Callable[[], None] = lambda: None,
    repeats: int = 3,
    alone: dict[str, Callable[[Call], str | None]] | None = None,
) -> dict[str, Any]:
    """Speed, right share, candidates and calibration of one method over its cases; with
    ``alone``, the right share of other answers (one kind of evidence only) on the same
    calls."""
    if not cases:
        return {"method": name, "calls": 0}
    calls = [c.call for c in cases]
    seconds = math.inf
    for _ in range(repeats):
        clear()
        started = time.perf_counter()
        results = [locate(c) for c in calls]
        seconds = min(seconds, time.perf_counter() - started)
    right = [answer(r) == c.truth for r, c in zip(results, cases, strict=True)]
    in_cands = [
        any(c.truth in (k.transformer_id, k.pole_id) for k in r.candidates)
        for r, c in zip(results, cases, strict=True)
    ]
    conf = np.asarray([r.confidence for r in results])
    ok = np.asarray(right)
    base_seconds = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        base = [baseline(c) for c in calls]
        base_seconds = min(base_seconds, time.perf_counter() - started)
    base_right = [b == c.truth for b, c in zip(base, cases, strict=True)]
    out: dict[str, Any] = {
        "method": name,
        "calls": len(cases),
        "calls_per_s": round(len(cases) / seconds),
        "right": round(float(np.mean(right)), 4),
        "truth_among_candidates": round(float(np.mean(in_cands)), 4),
        "mean_confidence_when_right": round(float(conf[ok].mean()), 3) if ok.any() else None,
        "mean_confidence_when_wrong": round(float(conf[~ok].mean()), 3) if (~ok).any() else None,
        "baseline_calls_per_s": round(len(cases) / max(base_seconds, 1e-9)),
        "baseline_right": round(float(np.mean(base_right)), 4),
        "calibration": calibration(conf, ok),
    }
    others: dict[str, list[bool]] = {}
    for label, other in (alone or {}).items():
        others[label] = [other(c.call) == c.truth for c in cases]
        out[f"right_{label}"] = round(float(np.mean(others[label])), 4)
    if by is not None:
        groups: dict[str, list[int]] = {}
        for i, c in enumerate(cases):
            groups.setdefault(by(c), []).append(i)
        out["by"] = {
            k: {
                "n": len(v),
                "right": round(float(np.mean([right[i] for i in v])), 4),
                "among": round(float(np.mean([in_cands[i] for i in v])), 4),
                **{
                    f"right_{label}": round(float(np.mean([o[i] for i in v])), 4)
                    for label, o in others.items()
                },
            }
            for k, v in sorted(groups.items())
        }
    return out


CONFIDENT = 0.9
CONFIDENCE_BINS = (0.0, 0.3, 0.5, 0.7, 0.9, 1.0001)


def calibration(conf: np.ndarray, ok: np.ndarray) -> dict[str, Any]:
    """How often the answer is right when the locator is confident (confidence at least
    ``CONFIDENT``), and per confidence bin the mean confidence beside the right share: a
    calibrated locator's two figures agree."""
    sure = conf >= CONFIDENT
    bins: dict[str, Any] = {}
    for lo, hi in itertools.pairwise(CONFIDENCE_BINS):
        m = (conf >= lo) & (conf < hi)
        if m.any():
            bins[f"{lo:.1f}-{min(hi, 1.0):.1f}"] = {
                "n": int(m.sum()),
                "confidence": round(float(conf[m].mean()), 3),
                "right": round(float(ok[m].mean()), 3),
            }
    return {
        "confident_share": round(float(sure.mean()), 4),
        "right_when_confident": round(float(ok[sure].mean()), 4) if sure.any() else None,
        "bins": bins,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--calls", type=int, default=5000, help="calls per method")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--synthetic", action="store_true", help="a synthetic grid, not the demo")
    args = ap.parse_args(argv)
    json.dump(report(args), sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")
    return 0


def report(args: argparse.Namespace) -> dict[str, Any]:
    """Every method's speed and accuracy beside its baseline, as one dictionary."""
    t0 = time.perf_counter()
    data, model, what = load_grid(args.scale, args.seed, args.synthetic)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    locator = Locator(data, model)
    build_s = time.perf_counter() - t0
    rng = np.random.default_rng(args.seed + 1)
    n = args.calls
    accounts = account_cases(data, rng, n)
    poles = pole_cases(data, locator, rng, n)
    gps = gps_cases(data, locator, rng, n)
    addresses = address_cases(data, rng, n)
    gps_sim = gps_cases(data, locator, rng, n, errors="simulator")
    gps_addr = gps_cases(data, locator, rng, n, with_address=True)
    gps_addr_sim = gps_cases(data, locator, rng, n, errors="simulator", with_address=True)

    def tr(loc: Any) -> str | None:
        return loc.transformer_id  # type: ignore[no-any-return]

    def pole(loc: Any) -> str | None:
        return loc.pole_id  # type: ignore[no-any-return]

    labels = [c for c in poles if c.call.address is None]
    with_area = [c for c in poles if c.call.address is not None]
    clear = locator.clear_caches
    results = [
        run(
            "account",
            accounts,
            locator.locate,
            tr,
            baseline_account(data),
            lambda c: c.kind,
            clear=clear,
        ),
        run(
            "pole", labels, locator.locate, pole, baseline_pole(data), lambda c: c.kind, clear=clear
        ),
        run(
            "pole number + caller's village",
            with_area,
            locator.locate,
            pole,
            baseline_pole(data),
            clear=clear,
        ),
        run(
            "address",
            addresses,
            locator.locate,
            tr,
            baseline_address(data),
            lambda c: noise_class(c.kind),
            clear=clear,
        ),
    ]

    def by_band(c: Case) -> str:
        return ("interleaved" if c.extra["interleaved"] else "separate") + " " + c.kind

    gps_base = baseline_gps(data, locator)
    addr_base = baseline_address(data)

    def gps_addr_base(call: Call) -> str | None:
        return addr_base(call) or gps_base(call)

    def alone(field: str) -> Callable[[Call], str | None]:
        def answer(call: Call) -> str | None:
            if field == "gps":
                return locator.locate(replace(call, address=None)).transformer_id
            return locator.locate(replace(call, lon=None, lat=None)).transformer_id

        return answer

    for name, cases, errors in (
        ("gps", gps, "loguniform"),
        ("gps, simulator errors", gps_sim, "simulator"),
    ):
        results.append(
            run(
                name,
                cases,
                locator.locate,
                tr,
                gps_base,
                by_band,
                clear=clear,
                alone={"oracle_true_error_law": oracle_gps(locator, errors)},
            )
        )
    for name, cases in (
        ("gps + address", gps_addr),
        ("gps + address, simulator errors", gps_addr_sim),
    ):
        results.append(
            run(
                name,
                cases,
                locator.locate,
                tr,
                gps_addr_base,
                by_band,
                clear=clear,
                alone={"gps_alone": alone("gps"), "address_alone": alone("address")},
            )
        )
    gps_sep = [c for c in gps if not c.extra["interleaved"]]
    out_report = {
        "grid": what,
        "service_points": len(data.layer("service_points")),
        "transformers": len(data.layer("transformers")),
        "poles": len(data.layer("poles")),
        "load_s": round(load_s, 1),
        "locator_build_s": round(build_s, 2),
        "gps_separate_share": round(len(gps_sep) / max(1, len(gps)), 3),
        "gps_error_median_m": {
            "loguniform": round(math.sqrt(10 * 300), 1),
            "simulator": 35.0,
        },
        "methods": results,
    }
    return out_report


if __name__ == "__main__":
    raise SystemExit(main())
