"""The locator: one call in, one :class:`Location` out, with the candidates and evidence behind it.

Every kind of information the call carries is used, each by its own method, and the results
are then set side by side in the order of trust the issue fixes (account number, pole
number, phone position, address text, admin area). The most trusted result that exists is
the answer; the others confirm it (the confidence rises a little) or contradict it (the
evidence says so, the confidence drops, and their places join the candidates), because an
agent must see a conflict rather than have it resolved silently.

Everything the hot path needs is computed once in ``__init__`` (dicts, KD-trees, syllable
indexes), so that a call costs tens of microseconds for an account, pole or position and a
few hundred for an address.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from gis.crs import haversine_m
from layers.grid import GridData
from layers.network import MV_LINE, NetworkModel, UnknownElementError
from outages.calls import Call
from outages.locate.address import AddressHit, AddressIndex
from outages.locate.model import Candidate, Location, Method
from outages.locate.poles import LineIndex, PoleLabel, line_key, pole_label_readings
from outages.locate.position import Plane, PositionIndex
from outages.locate.text import nfkc, numbered_label, pinyin_units, spell

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

TRUST = (Method.ACCOUNT, Method.POLE, Method.GPS, Method.ADDRESS, Method.ADMIN)

# How far an address match of each level is trusted, and how far from it the truth may lie.
LEVEL_CONFIDENCE = {
    "house": 0.92,
    "group": 0.75,
    "place": 0.75,
    "locality": 0.3,
    "township": 0.12,
    "county": 0.04,
}
LEVEL_RADIUS_M = {
    "house": 80.0,
    "group": 300.0,
    "place": 200.0,
    "locality": 1_000.0,
    "township": 5_000.0,
    "county": 25_000.0,
}

# A phone position and an address together (Locator.fuse): the share of address texts that
# name no meter near the caller (a wrong village, a neighbour's house), spread over all
# meters; a place with more meters than this is an area and is not weighed; and how much
# the confidence drops when the two point to different transformers, times how strongly
# the loser argued for its own (its share of its transformer less its share of the answer:
# a fix that was 40/35 % between two transformers hardly disagrees with an address naming
# the second, one that was 90 % sure of the first does).
ADDRESS_WRONG = 0.1
MAX_FUSED_ROWS = 5_000
DISAGREE_DROP = 0.25
# A caller's name matched to the holders of accounts: trusted below a caller id (0.85),
# and not at all when more holders than this bear it.
NAME_CONFIDENCE = 0.6
NAME_MAX_ACCOUNTS = 8

_ACCOUNT_LABEL = re.compile(
    r"^(?:户号|用户编号|用户号|客户编号|账号|account(?:\s*no\.?)?)\s*[:：]?\s*", re.IGNORECASE
)
_ACCOUNT_JUNK = re.compile(r"[\s\-_.·/]+")


def normalise_account(text: str) -> str:
    """The account number as the billing system writes it: full-width digits made ASCII,
    spaces, dashes and dots (read-out grouping) removed, a leading label dropped."""
    t = nfkc(text).strip()
    t = _ACCOUNT_LABEL.sub("", t)
    return _ACCOUNT_JUNK.sub("", t).upper()


@dataclass
class _Found:
    """What one method found, before it is set beside the others."""

    method: Method
    lon: float
    lat: float
    confidence: float
    radius: float  # metres within which the truth probably lies
    candidates: list[Candidate]
    evidence: list[str]
    summary: str
    service_point_id: str | None = None
    transformer_id: str | None = None
    element_id: str | None = None
    admin_id: str | None = None
    pole_id: str | None = None
    transformer_shares: dict[str, float] = field(default_factory=dict)
    # what a phone position and an address leave for :meth:`Locator.fuse`
    fix_xy: tuple[float, float] | None = None
    position_post: list[tuple[int, float, int, float]] = field(default_factory=list)
    position_scale: float = 0.0
    address_hits: list[tuple[AddressHit, float]] = field(default_factory=list)
    # a pole said without its line, picked among the poles of that number by another
    # method's place: it says no more of the caller's transformer than that place does
    picked_by_place: bool = False
    # the method the answer names when not its own: a caller's name found among the
    # account holders leads like an account, but is named as the place it narrowed, or as
    # an admin fallback (the agent reads "account" as the customer's own number)
    reported_as: Method | None = None


def _trust_rank(found: _Found, address_confidence: float) -> float:
    """Which method's answer leads: a pole that an address picked comes after it, unless
    the pole is the surer (the address names the customer's own meter or street, the
    pole only something near it)."""
    if found.picked_by_place and address_confidence >= found.confidence:
        return TRUST.index(Method.ADDRESS) + 0.5
    return float(TRUST.index(found.method))


def _point_coords(geoms: list[Any]) -> tuple[FloatArray, FloatArray]:
    """lon/lat arrays of point layers (a centroid for anything else, NaN where missing)."""
    arr = np.asarray(geoms, dtype=object)
    lon = np.full(len(arr), np.nan)
    lat = np.full(len(arr), np.nan)
    if not len(arr):
        return lon, lat
    ok = ~(shapely.is_missing(arr) | shapely.is_empty(arr))
    if ok.any():
        sub = arr[ok]
        if not (shapely.get_type_id(sub) == 0).all():
            sub = shapely.centroid(sub)
        xy = shapely.get_coordinates(sub)
        lon[ok] = xy[:, 0]
        lat[ok] = xy[:, 1]
    return lon, lat


class Locator:
    """Locates calls on one grid; build once (at server start), call :meth:`locate` often."""

    def __init__(self, data: GridData, model: NetworkModel, *, reach_m: float = 2_000.0) -> None:
        started = time.perf_counter()
        self.data = data
        self.model = model
        sps = data.layer("service_points")
        trs = data.layer("transformers")
        self.sp_ids: list[str] = [str(v) for v in sps["id"].tolist()]
        self._sp_account_list: list[str | None] = sps["account_no"].tolist()
        self.sp_lon, self.sp_lat = _point_coords(sps["geometry"].tolist())
        self._sp_lon_list: list[float] = self.sp_lon.tolist()
        self._sp_lat_list: list[float] = self.sp_lat.tolist()
        self.tr_ids: list[str] = [str(v) for v in trs["id"].tolist()]
        self.tr_names: list[str] = [
            str(n or i) for i, n in zip(self.tr_ids, trs["name"].tolist(), strict=True)
        ]
        self.tr_lon, self.tr_lat = _point_coords(trs["geometry"].tolist())
        self._tr_index = {t: i for i, t in enumerate(self.tr_ids)}
        tr_of_sp = pd.Series(sps["transformer_id"].to_numpy(dtype=object)).map(self._tr_index)
        self.sp_tr: IntArray = tr_of_sp.fillna(-1).to_numpy(dtype=np.int64)
        self._sp_tr_list: list[int] = self.sp_tr.tolist()
        self.tr_feeder: list[str | None] = []
        for t in self.tr_ids:
            try:
                self.tr_feeder.append(model.feeder_of(t))
            except UnknownElementError:
                self.tr_feeder.append(None)

        self._build_accounts(sps)
        self._build_poles(data.layer("poles"))

        lon0, lat0 = data.frame.lon0, data.frame.lat0
        self.plane = Plane.around(lon0, lat0)
        admin = data.layer("admin_areas")
        county = [
            g
            for g, lv in zip(admin["geometry"].tolist(), admin["level"].tolist(), strict=True)
            if lv == "county"
        ]
        self.positions = PositionIndex(
            self.plane,
            self.sp_lon,
            self.sp_lat,
            self.sp_tr,
            self.tr_lon,
            self.tr_lat,
            self.pole_lon,
            self.pole_lat,
            county,
            reach_m=reach_m,
        )
        # the transformers around every pole, in one batch query
        n_near = min(6, len(self.tr_ids))
        if n_near and len(self.pole_ids) and self.positions.tr_tree is not None:
            px, py = self.plane.xy_arrays(self.pole_lon, self.pole_lat)
            ok = np.isfinite(px) & np.isfinite(py)
            d, idx = self.positions.tr_tree.query(
                np.column_stack([np.where(ok, px, 0.0), np.where(ok, py, 0.0)]), k=n_near
            )
            self._pole_tr_d = np.asarray(d, dtype=np.float64).reshape(len(px), n_near)
            self._pole_tr_i = np.asarray(idx, dtype=np.int64).reshape(len(px), n_near)
            # a transformer on the pole's own feeder is three times as likely to be meant
            codes = {f: i for i, f in enumerate(sorted({f for f in self.tr_feeder if f}))}
            tr_code = np.asarray([codes.get(f or "", -1) for f in self.tr_feeder], dtype=np.int64)
            pole_code = np.asarray(
                [codes.get(f or "", -2) for f in self.pole_feeder], dtype=np.int64
            )
            same = tr_code[self._pole_tr_i] == pole_code[:, None]
            w = np.exp(-self._pole_tr_d / 250.0) * np.where(same, 3.0, 1.0)
            total = w.sum(axis=1, keepdims=True)
            self._pole_tr_w = w / np.where(total > 0, total, 1.0)
        else:
            self._pole_tr_d = np.zeros((len(self.pole_ids), 0))
            self._pole_tr_i = np.zeros((len(self.pole_ids), 0), dtype=np.int64)
            self._pole_tr_w = np.zeros((len(self.pole_ids), 0))
        self.addresses = AddressIndex(sps, self.sp_lon, self.sp_lat, admin, data.layer("places"))
        self.build_seconds = time.perf_counter() - started

    # -- build ------------------------------------------------------------------------------

    def _build_accounts(self, sps: pd.DataFrame) -> None:
        raw = sps["account_no"].tolist()
        keys = [
            a
            if a is not None and a.isascii() and a.isdigit()
            else (normalise_account(str(a)) if a is not None else None)
            for a in raw
        ]
        pairs = [(k, row) for row, k in enumerate(keys) if k is not None]
        index = dict(reversed(pairs))  # the first row of a repeated number wins
        dupes: dict[str, list[int]] = {}
        if len(index) < len(pairs):  # one account, several meters
            for key, row in pairs:
                if index[key] != row:
                    dupes.setdefault(key, [index[key]]).append(row)
        self._accounts = index
        self._account_dupes = dupes
        self._zero_led_lengths = sorted({len(k) for k in index if k.startswith("0")})
        # The number a customer registered with the account: the hotline's caller id finds
        # the account when the caller gives none (来电号码识别).
        phones: dict[str, list[int]] = {}
        if "phone" in sps.columns:
            for row, phone in enumerate(sps["phone"].tolist()):
                if phone:
                    key = normalise_account(str(phone))
                    if len(key) >= 7:
                        phones.setdefault(key, []).append(row)
        self._phones = phones
        # The account holder's registered name (户主姓名): what an agent searches by when
        # the caller knows no number and cannot say where they are.
        names: dict[str, list[int]] = {}
        if "name" in sps.columns:
            holders = sps["name"].tolist()
            # a county's names repeat: each distinct one is normalised once
            name_keys = {n: _name_key(n) for n in set(holders) if n}
            for row, name in enumerate(holders):
                key = name_keys.get(name, "")
                if len(key) >= 2:
                    names.setdefault(key, []).append(row)
        self._names = names

    def _build_poles(self, poles: pd.DataFrame) -> None:
        model = self.model
        self.pole_ids: list[str] = [str(v) for v in poles["id"].tolist()]
        self.pole_lon, self.pole_lat = _point_coords(poles["geometry"].tolist())
        self.pole_line_names: list[str] = [str(v or "") for v in poles["line_name"].tolist()]
        numbers = poles["number"].tolist()
        key_cache: dict[str, tuple[str, str | None]] = {}
        num_cache: dict[str, str | None] = {}
        at: dict[tuple[tuple[str, str | None], str], list[int]] = {}
        by_number: dict[str, list[int]] = {}
        self.pole_feeder: list[str | None] = []
        keys: set[tuple[str, str | None]] = set()
        self._key_names: dict[tuple[str, str | None], str] = {}
        for row, (pid, name, num) in enumerate(
            zip(self.pole_ids, self.pole_line_names, numbers, strict=True)
        ):
            try:
                feeder = model.feeder_of(pid)
            except UnknownElementError:
                feeder = None
            self.pole_feeder.append(feeder)
            if num is None:
                continue
            n = num_cache.get(num)
            if num not in num_cache:
                n = num_cache[num] = numbered_label(str(num).replace("#", "").replace("号", ""))
            if n is None:
                continue
            by_number.setdefault(n, []).append(row)
            for text in (name, feeder):
                if not text:
                    continue
                k = key_cache.get(text)
                if k is None:
                    k = key_cache[text] = line_key(text)
                    self._key_names.setdefault(k, text)
                keys.add(k)
                lst = at.setdefault((k, n), [])
                if not lst or lst[-1] != row:
                    lst.append(row)
        self._pole_lon_list: list[float] = self.pole_lon.tolist()
        self._pole_lat_list: list[float] = self.pole_lat.tolist()
        self._pole_info_cache: dict[int, tuple[str | None, list[tuple[int, float, float]]]] = {}
        self._pole_at = at
        self._pole_by_number = by_number
        self.lines = LineIndex(sorted(keys, key=lambda k: (k[0], k[1] or "")))

    def clear_caches(self) -> None:
        """Forgets every answer remembered from earlier calls (address texts, line names,
        spellings), as after a restart: for benchmarks, and after the names change."""
        self.addresses.clear_cache()
        self.lines.clear_cache()
        self._pole_info_cache.clear()
        spell.cache_clear()
        pinyin_units.cache_clear()

    # -- the entry point --------------------------------------------------------------------

    def locate(self, call: Call) -> Location:
        """The best location of a call, how it was found, and the candidates behind it."""
        found: list[_Found] = []
        failures: list[str] = []
        account = self.by_account(call.account_no) if call.account_no else None
        if account is not None:
            _collect(account, found, failures)
        if (account is None or isinstance(account, str)) and call.caller_phone:
            # no account number, or one the billing system does not know (misheard, a
            # digit wrong): the caller id may still find the account
            by_phone = self.by_phone(call.caller_phone)
            if not isinstance(by_phone, str):  # an unknown number says nothing
                found.append(by_phone)
        if call.lon is not None and call.lat is not None:
            _collect(self.by_position(call.lon, call.lat, call.coord_sys.value), found, failures)
        if call.address:
            _collect(self.by_address(call.address), found, failures)
        if call.pole_no:
            _collect(self.by_pole(call.pole_no, hints=found), found, failures)
        fused = self._fuse_found(found)
        if fused is not None:
            found = fused
        if call.caller_name and not any(
            f.method in (Method.ACCOUNT, Method.POLE, Method.GPS) for f in found
        ):
            self._add_by_name(call.caller_name, found, failures)
        if not found:
            reason = (
                "; ".join(failures)
                if failures
                else ("no account number, pole number, position or address given")
            )
            return Location(None, None, Method.NONE, 0.0, reason=reason, evidence=tuple(failures))
        address = max((f.confidence for f in found if f.method is Method.ADDRESS), default=-1.0)
        found.sort(key=lambda f: _trust_rank(f, address))
        return self._combine(found[0], found[1:], failures)

    # -- combining --------------------------------------------------------------------------

    def _combine(self, primary: _Found, others: list[_Found], failures: list[str]) -> Location:
        if not others and not failures:  # one method spoke: nothing to weigh
            return Location(
                primary.lon,
                primary.lat,
                primary.reported_as or primary.method,
                max(0.0, min(1.0, primary.confidence)),
                primary.service_point_id,
                primary.transformer_id,
                primary.element_id,
                primary.admin_id,
                tuple(primary.candidates),
                tuple(primary.evidence),
                pole_id=primary.pole_id,
            )
        conf = primary.confidence
        evidence = list(primary.evidence)
        cands = list(primary.candidates)
        alternatives: list[Candidate] = []
        alt_mass = 0.0
        pole_id = primary.pole_id  # or the pole the caller named, where it agrees
        for other in others:
            d = haversine_m(primary.lon, primary.lat, other.lon, other.lat)
            tolerance = primary.radius + other.radius + 300.0
            if d > tolerance:
                evidence.append(
                    f"conflict: {other.method.value} gives {other.summary}, "
                    f"{_distance(d)} from the {primary.method.value} location"
                    f" ({primary.summary})"
                )
                conf *= 0.5 if other.confidence >= 0.5 else 0.7
                share = min(0.4, 0.5 * other.confidence, 0.5 - alt_mass)
                alt_mass += share
                total = sum(c.likelihood for c in other.candidates) or 1.0
                for c in other.candidates:
                    alternatives.append(_scaled(c, share / total, "conflicting"))
                continue
            pole_id = pole_id or other.pole_id
            same_tr = (
                other.transformer_id is not None and other.transformer_id == primary.transformer_id
            )
            if primary.method in (Method.GPS, Method.ADDRESS, Method.ADMIN) and (
                other.transformer_shares and len(primary.transformer_shares) > 1
            ):
                # two weak sources on the same place: multiply their transformer beliefs
                cands, narrowed = _reweight(cands, other)
                if narrowed:
                    evidence.append(narrowed)
                    conf = max(conf, 0.9 * cands[0].likelihood)
            note = f"{other.method.value} agrees: {other.summary}, {_distance(d)} away"
            if same_tr:
                note += ", same transformer"
                conf = 1.0 - (1.0 - conf) * (1.0 - 0.5 * other.confidence)
            elif other.transformer_id is not None and primary.transformer_id is not None:
                t = self._tr_index.get(other.transformer_id)
                note += f", but it points to {self.tr_names[t] if t is not None else '?'}"
            evidence.append(note)
        evidence.extend(failures)
        if alternatives:
            scale = 1.0 - alt_mass
            cands = [_scaled(c, scale, None) for c in cands]
            cands.extend(alternatives)
        cands.sort(key=lambda c: -c.likelihood)
        top_tr = primary.transformer_id
        if primary.method in (Method.GPS, Method.ADDRESS, Method.ADMIN):
            # after narrowing, the transformer the primary method's candidates favour now
            totals: dict[str, float] = {}
            for c in cands:
                if c.method == primary.method and c.transformer_id:
                    totals[c.transformer_id] = totals.get(c.transformer_id, 0.0) + c.likelihood
            if totals:
                top_tr = max(totals, key=lambda t: totals[t])
        return Location(
            lon=primary.lon,
            lat=primary.lat,
            method=primary.reported_as or primary.method,
            confidence=max(0.0, min(1.0, conf)),
            service_point_id=primary.service_point_id,
            transformer_id=top_tr,
            element_id=primary.element_id,
            admin_id=primary.admin_id,
            pole_id=pole_id,
            candidates=tuple(cands),
            evidence=tuple(evidence),
            reason=None,
        )

    # -- a phone position and an address together --------------------------------------------

    def _fuse_found(self, found: list[_Found]) -> list[_Found] | None:
        """``found`` with a phone position and an address replaced by one answer that
        weighs both (:meth:`fuse`), or ``None`` when there is not that pair to fuse, or a
        more trusted method (an account, a pole) answers and the two only confirm it (each
        in its own words)."""
        if any(f.method in (Method.ACCOUNT, Method.POLE) for f in found):
            return None
        gps = next((f for f in found if f.method == Method.GPS), None)
        addr = next((f for f in found if f.address_hits), None)
        if gps is None or addr is None:
            return None
        fused = self.fuse(gps, addr)
        if fused is None:
            return None
        return [fused if f is gps else f for f in found if f is not addr]

    def fuse(self, gps: _Found, addr: _Found) -> _Found | None:
        """The transformers of a caller who gave both a phone position and an address.

        Over the meters m the caller may be at, P(m) is proportional to the position's
        likelihood f(|fix - m|) (the error-scale mixture) times the address's,
        (1 - q) A(m) + q / N: A spreads each place the text may mean over its meters, and
        the floor q / N (q = ``ADDRESS_WRONG``, N meters) keeps a wrong address from ruling
        out the meters around the fix. Summed per transformer. So a house 200 m from the
        fix wins over the meters beside the fix when the text names it, and a text that
        names a village across the county leaves the position to decide. ``None`` when the
        fix is too far from every meter to weigh."""
        scale = gps.position_scale
        if scale <= 0.0 or gps.fix_xy is None:
            return None
        pos = self.positions
        fx, fy = gps.fix_xy
        n_sp = max(1, len(self.sp_ids))
        floor = ADDRESS_WRONG / n_sp * scale  # the floor term, times the position's scale
        keep = 1.0 - ADDRESS_WRONG
        parts: list[tuple[IntArray, FloatArray, FloatArray]] = []  # rows, weight, share
        for hit, p_hit in addr.address_hits:
            rows = hit.rows
            if not len(rows):
                if hit.level != "place" or hit.lon is None or hit.lat is None:
                    continue  # an area: says next to nothing about the transformer
                _d, rows = pos.nearest_sps(hit.lon, hit.lat, 16)
            if len(rows) > MAX_FUSED_ROWS:
                continue  # a whole township's meters: as good as no address
            xy = pos.sp_xy[rows]
            d = np.hypot(xy[:, 0] - fx, xy[:, 1] - fy)
            share = p_hit / len(rows)
            parts.append((rows, pos.kernel(d) * (keep * share), np.full(len(rows), share)))
        if not parts:
            return None
        all_rows = np.concatenate([r for r, _, _ in parts])
        all_w = np.concatenate([w for _, w, _ in parts])
        all_share = np.concatenate([a for _, _, a in parts])
        trs, inv = np.unique(self.sp_tr[all_rows], return_inverse=True)
        sums = np.bincount(inv, weights=all_w)
        share_sums = np.bincount(inv, weights=all_share)
        order = np.lexsort((-all_w, inv))  # by transformer, the heaviest meter first
        firsts = order[np.searchsorted(inv[order], np.arange(len(trs)))]
        t_list: list[int] = trs.tolist()
        by_addr = dict(zip(t_list, sums.tolist(), strict=True))
        addr_share = dict(zip(t_list, share_sums.tolist(), strict=True))
        best = {
            t: (float(all_w[i]), int(all_rows[i]))
            for t, i in zip(t_list, firsts.tolist(), strict=True)
        }
        gps_share = {t: p for t, p, _r, _d in gps.position_post}
        near_row = {t: r for t, _p, r, _d in gps.position_post}
        total = sum(by_addr.values()) + floor
        post = {t: floor * p for t, p in gps_share.items()}
        for t, v in by_addr.items():
            post[t] = post.get(t, 0.0) + v
        ranked = sorted(((p / total, t) for t, p in post.items() if t >= 0), reverse=True)
        if not ranked:
            return None
        p_top, t_top = ranked[0]
        t_gps = gps.position_post[0][0] if gps.position_post else -1
        t_addr = max(addr_share, key=lambda t: addr_share[t])
        name = self._tr_name
        evidence = [e for e in gps.evidence if not e.startswith(("→", "customers of"))]
        evidence.extend(addr.evidence)
        d_addr = haversine_m(gps.lon, gps.lat, addr.lon, addr.lat)
        conf = p_top
        if t_gps >= 0 and t_addr >= 0 and t_gps != t_addr:
            evidence.append(
                f"position and address disagree: the position points to {name(t_gps)} "
                f"({gps_share[t_gps]:.0%}), the address to {name(t_addr)} "
                f"({min(1.0, addr_share[t_addr]):.0%}, {_distance(d_addr)} from the position)"
            )
            g_top = gps_share.get(t_gps, 0.0) - gps_share.get(t_top, 0.0)
            a_top = addr_share[t_addr] - addr_share.get(t_top, 0.0)
            conf *= 1.0 - DISAGREE_DROP * max(0.0, min(1.0, max(g_top, a_top)))
        else:
            evidence.append(
                f"position and address agree on {name(t_top)} "
                f"(address {_distance(d_addr)} from the position)"
            )
        evidence.append(
            "together: " + " / ".join(f"{name(t)} {p:.0%}" for p, t in ranked[:3] if p >= 0.02)
        )
        cands: list[Candidate] = []
        shares: dict[str, float] = {}
        for p, t in ranked[:5]:
            if p < 0.02 and cands:
                break
            from_addr = by_addr.get(t, 0.0)
            row = best[t][1] if from_addr >= floor * gps_share.get(t, 0.0) else near_row[t]
            shares[self.tr_ids[t]] = p
            cands.append(
                self._meter_candidate(
                    row,
                    p,
                    Method.GPS,
                    f"{name(t)}: position {gps_share.get(t, 0.0):.0%}, "
                    f"address {min(1.0, addr_share.get(t, 0.0)):.0%}, together {p:.0%}",
                )
            )
        sp_id = gps.service_point_id if gps.transformer_id == self.tr_ids[t_top] else None
        if t_top in best and best[t_top][0] / total >= 0.5:
            sp_id = self.sp_ids[best[t_top][1]]  # the named house, and the fix agrees
        return _Found(
            Method.GPS,
            gps.lon,
            gps.lat,
            max(0.0, min(1.0, conf)),
            gps.radius,
            cands,
            evidence,
            gps.summary + " and " + addr.summary,
            sp_id,
            self.tr_ids[t_top],
            admin_id=addr.admin_id,
            transformer_shares=shares,
        )

    def _tr_name(self, t: int) -> str:
        return self.tr_names[t] if t >= 0 else "?"

    def _meter_candidate(
        self, row: int, likelihood: float, method: Method, evidence: str
    ) -> Candidate:
        """A candidate at one meter, with the transformer that feeds it."""
        t = self._sp_tr_list[row]
        return Candidate(
            self._sp_lon_list[row],
            self._sp_lat_list[row],
            likelihood,
            method,
            self.tr_ids[t] if t >= 0 else None,
            self.sp_ids[row],
            evidence=(evidence,),
        )

    # -- account ----------------------------------------------------------------------------

    def by_account(self, text: str) -> _Found | str:
        """An exact account number (after normalising how it was read out), or one whose
        leading zeros were lost."""
        key = normalise_account(text)
        row = self._accounts.get(key)
        said = key
        if row is None:
            restored = self._with_lost_zeros(key)
            if restored is None:
                return f"户号 {text.strip()} not found"
            key, row = restored, self._accounts[restored]
        rows = self._account_dupes.get(key, [row])
        share = 0.99 / len(rows)
        cands = []
        for r in rows:
            tr = self._sp_tr_list[r]
            ev = f"户号 {key} → {self.tr_names[tr] if tr >= 0 else 'no transformer'}"
            cands.append(self._meter_candidate(r, share, Method.ACCOUNT, ev))
        first = cands[0]
        evidence = [first.evidence[0]]
        conf = 0.99
        if said != key:
            evidence.append(f"户号 {said} read as {key}: its leading zeros were lost")
            conf = 0.95
        if len(rows) > 1:
            evidence.append(f"户号 {key} has {len(rows)} meters")
            conf = 0.9
        return _Found(
            Method.ACCOUNT,
            first.lon,
            first.lat,
            conf,
            60.0,
            cands,
            evidence,
            f"户号 {key}",
            first.service_point_id,
            first.transformer_id,
        )

    def _with_lost_zeros(self, key: str) -> str | None:
        """The one account that ``key`` is with its leading zeros put back: a spreadsheet
        or a form that takes the 户号 for a number drops them."""
        if not key.isdigit():
            return None
        found = [
            padded
            for length in self._zero_led_lengths
            if length > len(key) and (padded := key.zfill(length)) in self._accounts
        ]
        return found[0] if len(found) == 1 else None

    def by_phone(self, text: str) -> _Found | str:
        """The accounts registered with the caller's number. Less sure than an account
        number: a relative may call about their own home from a registered phone."""
        key = normalise_account(text)
        if key.startswith("86") and len(key) == 13:
            key = key[2:]
        rows = self._phones.get(key)
        if not rows:
            return f"caller number {text.strip()} is on no account"
        share = 0.85 / len(rows)
        cands = []
        for r in rows[:10]:
            tr = self._sp_tr_list[r]
            ev = (
                f"来电号码 {key} registered on 户号 {self._sp_account_list[r]} → "
                f"{self.tr_names[tr] if tr >= 0 else 'no transformer'}"
            )
            cands.append(self._meter_candidate(r, share, Method.ACCOUNT, ev))
        first = cands[0]
        conf = 0.85 if len(rows) == 1 else 0.85 / len(rows)
        evidence = [first.evidence[0]]
        if len(rows) > 1:
            evidence.append(f"来电号码 {key} is on {len(rows)} accounts")
        return _Found(
            Method.ACCOUNT,
            first.lon,
            first.lat,
            conf,
            80.0,
            cands,
            evidence,
            f"caller number {key}",
            first.service_point_id,
            first.transformer_id,
        )

    def by_name(
        self,
        text: str,
        within: set[str] | None = None,
        place: str = "",
        method_of_place: Method = Method.ADMIN,
    ) -> _Found | str:
        """The accounts whose holder bears the caller's name. Weaker than a caller id: the
        caller may be of the household but not its holder, or share a common name with
        another customer (then too many accounts bear it to place the call). ``within``:
        only the accounts under these transformers, those of the ``place`` said (a homonym
        elsewhere says nothing of this caller), found by ``method_of_place``: the method
        the answer names (a name alone is named an admin fallback, as weak)."""
        rows = self._names.get(_name_key(text))
        if not rows:
            return "the caller's name is on no account"
        if len(rows) > NAME_MAX_ACCOUNTS:
            return f"the caller's name is on {len(rows)} accounts: too common to place the call"
        if within is not None:
            rows = [
                r
                for r in rows
                if self._sp_tr_list[r] >= 0 and self.tr_ids[self._sp_tr_list[r]] in within
            ]
            if not rows:
                return "the caller's name is on no account in the place said"
        share = NAME_CONFIDENCE / len(rows)
        cands = []
        shares: dict[str, float] = {}
        for r in rows:
            tr = self._sp_tr_list[r]
            ev = (
                f"户主姓名 (the caller's name) on 户号 {self._sp_account_list[r]} → "
                f"{self.tr_names[tr] if tr >= 0 else 'no transformer'}"
            )
            cand = self._meter_candidate(r, share, Method.ACCOUNT, ev)
            cands.append(cand)
            if cand.transformer_id:
                shares[cand.transformer_id] = shares.get(cand.transformer_id, 0.0) + share
        first = cands[0]
        evidence = [first.evidence[0]]
        summary = "the caller's name"
        if within is not None:
            evidence.append(f"in the place said ({place})")
            summary += ", in the place said"
        elif len(rows) > 1:
            evidence.append(f"the caller's name is on {len(rows)} accounts")
        return _Found(
            Method.ACCOUNT,
            first.lon,
            first.lat,
            share,
            80.0,
            cands,
            evidence,
            summary,
            first.service_point_id,
            first.transformer_id,
            transformer_shares=shares,
            reported_as=method_of_place,
        )

    def _add_by_name(self, name: str, found: list[_Found], failures: list[str]) -> None:
        """The caller's name places a call that nothing else placed, or narrows a place
        said of several transformers (a village, an admin area) down to the holder's meter
        when it lies there; a place of one transformer keeps its own answer."""
        if not found:
            _collect(self.by_name(name), found, failures)
            return
        near = {t for f in found for t in f.transformer_shares} or {
            c.transformer_id for f in found for c in f.candidates if c.transformer_id
        }
        if len(near) < 2:
            return
        by_name = self.by_name(
            name,
            within=near,
            place=found[0].summary,
            method_of_place=min((f.method for f in found), key=TRUST.index),
        )
        if not isinstance(by_name, str):
            found.append(by_name)

    # -- phone position ---------------------------------------------------------------------

    def by_position(self, lon: float, lat: float, coord_sys: str = "WGS84") -> _Found | str:
        """The transformers whose customers are around a phone position."""
        found = self.positions.locate(lon, lat, coord_sys)
        if isinstance(found, str):
            return found
        fix, dist, rows = found
        post, scale = self.positions.posterior_total(dist, rows)
        d0, r0 = float(dist[0]), int(rows[0])
        evidence = list(fix.notes)
        evidence.append(f"nearest meter {self.sp_ids[r0]} {d0:.0f} m")
        top = [e for e in post[:4] if e[1] >= 0.05] or post[:1]
        factor = 0.95 if d0 < 100 else (0.8 if d0 < 300 else 0.5)
        cands: list[Candidate] = []
        shares: dict[str, float] = {}
        for t, p, row, d in top:
            ev = (
                f"{self._tr_name(t)}: {p:.0%} of the nearby meters' weight, "
                f"nearest of its meters {d:.0f} m"
            )
            cand = self._meter_candidate(row, p, Method.GPS, ev)
            cands.append(cand)
            if cand.transformer_id:
                shares[cand.transformer_id] = p
        best_t, best_p = top[0][0], top[0][1]
        if len(top) > 1 and top[1][1] >= 0.2:
            evidence.append(
                "customers of "
                + " and ".join(self.tr_names[t] for t, *_ in top[:3] if t >= 0)
                + " interleave here: "
                + " / ".join(f"{p:.0%}" for _, p, *_ in top[:3])
            )
        else:
            evidence.append(f"→ {self.tr_names[best_t] if best_t >= 0 else '?'} ({best_p:.0%})")
        tr_id = self.tr_ids[best_t] if best_t >= 0 else None
        return _Found(
            Method.GPS,
            fix.lon,
            fix.lat,
            best_p * factor,
            max(50.0, 1.5 * d0),
            cands,
            evidence,
            f"position near meter {self.sp_ids[r0]}",
            self.sp_ids[r0] if d0 < 60 else None,
            tr_id,
            transformer_shares=shares,
            fix_xy=self.plane.xy(fix.lon, fix.lat),
            position_post=post,
            position_scale=scale,
        )

    # -- address ----------------------------------------------------------------------------

    def by_address(self, text: str) -> _Found | str:
        """Ranked places the address text may mean; method ``admin`` when only an area."""
        hits = self.addresses.lookup(text)
        if not hits:
            return f"address {text.strip()!r} matched no known place"
        placed = [h for h in hits if h.lon is not None and h.lat is not None]
        if not placed:
            return f"address {text.strip()!r} matched no known place"
        top = placed[0]
        kept = [h for h in placed[:6] if h.score >= top.score - 12.0]
        weights = [math.exp((h.score - top.score) / 4.0) for h in kept]
        total = sum(weights)
        cands: list[Candidate] = []
        shares: dict[str, float] = {}
        method = Method.ADDRESS if top.level in ("house", "group", "place") else Method.ADMIN
        for h, w in zip(kept, weights, strict=True):
            p_hit = w / total
            h_method = Method.ADDRESS if h.level in ("house", "group", "place") else Method.ADMIN
            for tr_id, share, lon, lat, sp in self._hit_transformers(h):
                p = p_hit * share
                if p < 0.01:
                    continue
                cands.append(
                    Candidate(
                        lon, lat, p, h_method, tr_id, sp, admin_id=h.admin_id, evidence=h.evidence
                    )
                )
                if tr_id:
                    shares[tr_id] = shares.get(tr_id, 0.0) + p
        cands.sort(key=lambda c: -c.likelihood)
        p_top = weights[0] / total
        name_q = (top.name_score / 100.0) ** 2
        conf = LEVEL_CONFIDENCE[top.level] * name_q * p_top
        evidence = list(top.evidence)
        if len(kept) > 1:
            evidence.append(
                "also possible: "
                + "; ".join(
                    f"{h.label} ({w / total:.0%})"
                    for h, w in zip(kept[1:4], weights[1:4], strict=True)
                )
            )
        best_tr = max(shares, key=lambda t: shares[t]) if shares else None
        sp_id = (
            self.sp_ids[int(top.rows[0])] if top.level == "house" and len(top.rows) == 1 else None
        )
        assert top.lon is not None and top.lat is not None
        return _Found(
            method,
            top.lon,
            top.lat,
            conf,
            LEVEL_RADIUS_M[top.level],
            cands,
            evidence,
            f"address {top.label}",
            sp_id,
            best_tr,
            None,
            top.admin_id,
            transformer_shares=shares,
            address_hits=[(h, w / total) for h, w in zip(kept, weights, strict=True)],
        )

    def _hit_transformers(
        self, hit: AddressHit
    ) -> list[tuple[str | None, float, float, float, str | None]]:
        """(transformer, share, lon, lat, service point) of the meters an address hit names."""
        assert hit.lon is not None and hit.lat is not None
        rows = hit.rows
        if len(rows) == 1:
            r = int(rows[0])
            t = self._sp_tr_list[r]
            return [
                (
                    self.tr_ids[t] if t >= 0 else None,
                    1.0,
                    self._sp_lon_list[r],
                    self._sp_lat_list[r],
                    self.sp_ids[r],
                )
            ]
        if len(rows):
            trs = self.sp_tr[rows]
            values, counts = np.unique(trs, return_counts=True)
            order = np.argsort(-counts)[:3]
            out: list[tuple[str | None, float, float, float, str | None]] = []
            n = float(len(rows))
            for k in order.tolist():
                t = int(values[k])
                mask = trs == t
                out.append(
                    (
                        self.tr_ids[t] if t >= 0 else None,
                        float(counts[k]) / n,
                        float(self.sp_lon[rows[mask]].mean()),
                        float(self.sp_lat[rows[mask]].mean()),
                        None,
                    )
                )
            return out
        if hit.level == "place":
            post, _d0, _r0 = self.positions.transformer_posterior(hit.lon, hit.lat, k=16)
            return [
                (
                    self.tr_ids[t] if t >= 0 else None,
                    p,
                    self._sp_lon_list[r],
                    self._sp_lat_list[r],
                    None,
                )
                for t, p, r, _d in post[:3]
            ]
        return [(None, 1.0, hit.lon, hit.lat, None)]

    # -- pole -------------------------------------------------------------------------------

    def by_pole(self, text: str, hints: list[_Found] | None = None) -> _Found | str:
        """The pole a spoken label names, its line section and the transformers near it.
        Without a line name, or when several lines fit, the caller's area (from the other
        methods' results) picks the nearest of the poles that carry the number."""
        readings = pole_label_readings(text)
        label = readings[0]
        if label.number is None:
            return f"pole label {text.strip()!r} has no pole number"
        options = self._poles_labelled(text, label)
        for other in readings[1:]:
            # a line named exactly as said beats a line that only resembles the first reading's
            found = self._poles_labelled(text, other, exact=True)
            if not isinstance(found, str) and (
                isinstance(options, str)
                or max(s for s, _ in found.values()) > max(s for s, _ in options.values())
            ):
                label, options = other, found
        if isinstance(options, str):
            return options
        hint = next((h for h in (hints or []) if h.radius <= 5_000.0), None)
        if len(options) == 1 and hint is None:
            ((row, (score, how)),) = options.items()
            scored = [(score, row, how)]
        else:
            scored = []
            # the feeders that supply the caller's area: the pole they see is likely on one
            feeders = {
                self.tr_feeder[t]
                for t in (
                    self._tr_index.get(c.transformer_id or "")
                    for c in (hint.candidates if hint else ())
                )
                if t is not None
            } - {None}
            for row, (score, how) in options.items():
                s, note = score, how
                if hint is not None:
                    d = haversine_m(
                        hint.lon, hint.lat, self._pole_lon_list[row], self._pole_lat_list[row]
                    )
                    s -= 20.0 * math.log2(1.0 + d / (hint.radius + 1_000.0))
                    note = f"{how}, {_distance(d)} from the {hint.method.value} location"
                    if self.pole_feeder[row] in feeders:
                        s += 6.0
                        note += ", on a feeder that supplies it"
                scored.append((s, row, note))
            scored.sort(key=lambda e: -e[0])
            if not label.line and hint is None:
                return (
                    f"pole label {text.strip()!r}: {len(scored)} poles are numbered "
                    f"{label.number}; the line name or the caller's area is needed"
                )
        top_s = scored[0][0]
        weights = [math.exp((s - top_s) / 5.0) for s, _, _ in scored[:3]]
        total = sum(weights)
        cands: list[Candidate] = []
        for (_s, row, how), w in zip(scored[:3], weights, strict=True):
            p_pole = w / total
            section, trs = self._pole_info(row)
            lon, lat = self._pole_lon_list[row], self._pole_lat_list[row]
            head = f"pole {self.pole_line_names[row]} {label.number} ({how})"
            for k, (t, share, d) in enumerate(trs):
                if k > 0 and p_pole * share < 0.01:
                    continue
                cands.append(
                    Candidate(
                        lon,
                        lat,
                        p_pole * share,
                        Method.POLE,
                        self.tr_ids[t],
                        None,
                        section,
                        None,
                        (f"{head}; {self.tr_names[t]} {d:.0f} m away",),
                        self.pole_ids[row],
                    )
                )
            if not trs:
                cands.append(
                    Candidate(
                        lon,
                        lat,
                        p_pole,
                        Method.POLE,
                        None,
                        None,
                        section,
                        None,
                        (head,),
                        self.pole_ids[row],
                    )
                )
        cands.sort(key=lambda c: -c.likelihood)
        best_s, best_row, best_how = scored[0]
        p_best = weights[0] / total
        section, trs = self._pole_info(best_row)
        evidence = [
            f"pole {self.pole_ids[best_row]}: {self.pole_line_names[best_row]} "
            f"{label.number} ({best_how})"
        ]
        if section:
            evidence.append(f"line section {section}")
        if trs:
            evidence.append(
                "nearest transformers: "
                + ", ".join(f"{self.tr_names[t]} {d:.0f} m" for t, _s, d in trs)
            )
        if len(scored) > 1:
            evidence.append(f"{len(scored)} poles fit the label; this one {p_best:.0%}")
        conf = 0.95 * (max(0.0, min(100.0, best_s)) / 100.0) ** 2 * p_best
        tr_id = self.tr_ids[trs[0][0]] if trs else None
        return _Found(
            Method.POLE,
            self._pole_lon_list[best_row],
            self._pole_lat_list[best_row],
            conf,
            150.0,
            cands,
            evidence,
            f"pole {self.pole_line_names[best_row]} {label.number}",
            None,
            tr_id,
            section,
            None,
            self.pole_ids[best_row],
            picked_by_place=not label.line and hint is not None,
        )

    def _poles_labelled(
        self, text: str, label: PoleLabel, *, exact: bool = False
    ) -> dict[int, tuple[float, str]] | str:
        """The poles that one reading of a label may name, each with how well its line fits
        the label's and how; or why none. ``exact``: only the line named as said, ordinal
        and all (a second reading of a label must not guess as well)."""
        assert label.number is not None
        if exact and label.line:
            key = line_key(label.line)
            named = self._pole_at.get((key, label.number), [])
            if not named:
                return f"pole label {text.strip()!r}: no pole {label.number} on {label.line}"
            return {row: (100.0, self._key_names.get(key, key[0])) for row in named}
        options: dict[int, tuple[float, str]] = {}
        if label.line:
            matches = self.lines.match(label.line)
            if not matches:
                return f"pole label {text.strip()!r}: line {label.line!r} matches no known line"
            for lm in matches:
                rows = self._pole_at.get((lm.key, label.number))
                if not rows:
                    continue
                how = self._key_names.get(lm.key, lm.key[0])
                if lm.how != "exact":
                    how += f" ({lm.how})"
                for row in rows:
                    if row not in options or lm.score > options[row][0]:
                        options[row] = (lm.score, how)
            if not options:
                names = ", ".join(self._key_names.get(m.key, m.key[0]) for m in matches[:3])
                return f"pole label {text.strip()!r}: no pole {label.number} on {names}"
        else:
            for row in self._pole_by_number.get(label.number, ()):
                options[row] = (70.0, "no line named")
            if not options:
                return f"pole label {text.strip()!r}: no pole numbered {label.number}"
        return options

    def _pole_info(self, row: int) -> tuple[str | None, list[tuple[int, float, float]]]:
        """(line section, nearest transformers) of a pole, computed once per pole."""
        info = self._pole_info_cache.get(row)
        if info is None:
            info = self._pole_info_cache[row] = (
                self.pole_section(row),
                self._pole_transformers(row),
            )
        return info

    def pole_section(self, row: int) -> str | None:
        """The 10 kV line section a pole stands on (the one feeding its node)."""
        model = self.model
        line = model.pole_line[row] if row < len(model.pole_line) else None
        if line:
            return line
        node = model.pole_node[row] if row < len(model.pole_node) else -1
        steps = 0
        while node >= 0 and steps < 50:
            e = int(model.parent_edge[node])
            if e < 0:
                return None
            if int(model.edge_kind[e]) == MV_LINE:
                return model.edge_ids[e]
            node = int(model.parent[node])
            steps += 1
        return None

    def _pole_transformers(self, row: int) -> list[tuple[int, float, float]]:
        """(transformer, share, distance) of the transformers nearest a pole, those on the
        pole's own feeder preferred (weights precomputed for all poles at build)."""
        shares = self._pole_tr_w[row]
        if not len(shares):
            return []
        order = np.argsort(-shares)[:3].tolist()
        idx = self._pole_tr_i[row]
        d = self._pole_tr_d[row]
        out = [(int(idx[k]), float(shares[k]), float(d[k])) for k in order]
        return [e for e in out if e[1] >= 0.05] or out[:1]


_NAME_JUNK = re.compile(r"[\s·•.]")


def _name_key(name: str) -> str:
    """A person's name as compared: width, spaces and the middle dot of minority and
    foreign names do not count."""
    return _NAME_JUNK.sub("", nfkc(str(name))).lower()


def _collect(result: _Found | str, found: list[_Found], failures: list[str]) -> None:
    if isinstance(result, str):
        failures.append(result)
    else:
        found.append(result)


def _distance(d: float) -> str:
    return f"{d / 1000:.1f} km" if d >= 1000 else f"{d:.0f} m"


def _scaled(c: Candidate, factor: float, tag: str | None) -> Candidate:
    ev = c.evidence if tag is None else (*c.evidence, tag)
    return Candidate(
        c.lon,
        c.lat,
        c.likelihood * factor,
        c.method,
        c.transformer_id,
        c.service_point_id,
        c.element_id,
        c.admin_id,
        ev,
        c.pole_id,
    )


def _reweight(cands: list[Candidate], other: _Found) -> tuple[list[Candidate], str | None]:
    """Candidates of a weak method reweighted by another weak method's transformer beliefs."""
    shares = other.transformer_shares
    total_before = sum(c.likelihood for c in cands)
    if total_before <= 0:
        return cands, None
    new = [c.likelihood * (shares.get(c.transformer_id or "", 0.0) + 0.05) for c in cands]
    s = sum(new)
    if s <= 0:
        return cands, None
    out = [
        Candidate(
            c.lon,
            c.lat,
            total_before * n / s,
            c.method,
            c.transformer_id,
            c.service_point_id,
            c.element_id,
            c.admin_id,
            c.evidence,
            c.pole_id,
        )
        for c, n in zip(cands, new, strict=True)
    ]
    out.sort(key=lambda c: -c.likelihood)
    return out, f"{other.method.value} narrows the transformers down"
