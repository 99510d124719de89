"""How callers say where they are: the location fields of a simulated 95598 call.

A real caller rarely gives one clean identifier. Some read the 户号 off a bill (the agent
types it with spaces, or the app pastes full-width digits), most say a village and a house
number that the agent types by ear (so a homophone character slips in: 张桩村 for 张庄村),
some read the number painted on the nearest pole ("城关一线第45基"), and app users send a
phone position that is GCJ-02 and tens to hundreds of metres off. This module turns the
truth (a service point, or a place near a fault) into those fields, using only the layers
that the grid has, so that the locator is tested on what agents really receive.

Everything is drawn from a caller-supplied :class:`numpy.random.Generator`, so a seed always
gives the same words.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from pypinyin import Style, lazy_pinyin
from scipy.spatial import cKDTree

from gis.crs import wgs84_to_gcj02
from layers.grid import GridData
from layers.network import NetworkModel, UnknownElementError
from outages.locate.text import char_pinyin, common_characters

# --- homophones ----------------------------------------------------------------------------

# Characters that sound alike (same syllable, tones ignored, as a pinyin input method
# offers them) and that agents really confuse in names of people and places. The first of
# each group is not privileged: any member may be heard as any other.
HOMOPHONE_GROUPS: tuple[str, ...] = (
    "庄桩装妆",
    "王汪",
    "李里理礼鲤",
    "张章彰樟",
    "刘留流柳",
    "陈晨沉臣",
    "程城成承诚",
    "杨阳扬洋",
    "黄皇凰煌",
    "周州洲舟",
    "吴武伍五",
    "赵照兆",
    "马玛码",
    "朱珠诸竹",
    "胡湖虎户",
    "郭国果",
    "何河和合",
    "林琳临霖",
    "罗洛骆落",
    "郑正政证",
    "梁良粮",
    "谢解蟹",
    "宋送颂",
    "唐堂塘棠汤",
    "许徐",
    "韩寒汉",
    "冯丰风峰枫凤",
    "邓登灯",
    "曹槽",
    "彭朋鹏蓬",
    "肖萧小晓",
    "田甜填",
    "董东冬懂",
    "袁元园原源圆",
    "潘盘",
    "蒋江姜将疆",
    "蔡菜彩",
    "余于鱼俞渔榆",
    "杜渡度",
    "叶页业",
    "魏卫位",
    "苏素",
    "吕旅铝",
    "丁顶定",
    "沈深申神",
    "任仁人",
    "姚尧窑瑶",
    "卢炉芦鲁路陆鹿",
    "崔翠",
    "钟中忠终",
    "谭潭坛",
    "范樊凡饭",
    "石时十实史施师",
    "邹走",
    "熊雄",
    "金今津锦",
    "郝好",
    "孔空",
    "白柏百",
    "毛茅猫",
    "邱秋丘",
    "秦琴勤芹",
    "顾谷古固",
    "侯后厚",
    "邵少绍",
    "孟梦",
    "龙隆笼",
    "万湾弯",
    "段断",
    "雷蕾磊",
    "钱前潜",
    "尹银引",
    "易义一艺益",
    "常长昌场",
    "乔桥侨",
    "赖来",
    "龚宫公工功",
    "文闻温",
    "营应英鹰",
    "岗港冈刚钢",
    "沟勾",
    "家佳加嘉",
    "店电殿甸",
    "集吉及",
    "铺浦普埔",
    "寨债",
    "堡保宝",
    "山杉衫珊",
    "坪平评萍",
    "新心欣辛鑫",
    "安鞍",
    "溪西希",
    "南楠男",
    "大达",
    "官关观冠",
    "沙纱砂",
    "泉全权",
    "镇振震",
    "乡香湘相",
    "村存寸",
    "组祖足",
    "屯吞",
    "楼娄",
    "庙妙",
    "固故",
    "坊方芳房",
    "台太泰",
    "园元源",
    "葛格",
    "贾甲",
    "阎严颜盐",
    "夏下",
    "戴代带",
    "方芳",
    "岳月越",
    "牛纽",
    "耿梗",
    "翟宅",
    "齐其奇棋",
)

# Near homophones: syllables that many northern and southern speakers do not tell apart
# (-n / -ng, z / zh, l / n). Agents hear these as the same name.
NEAR_HOMOPHONES: tuple[tuple[str, str], ...] = (
    ("陈", "程"),
    ("林", "凌"),
    ("金", "京"),
    ("新", "兴"),
    ("民", "明"),
    ("沈", "盛"),
    ("秦", "晴"),
    ("宾", "兵"),
    ("曾", "郑"),
    ("邹", "周"),
    ("兰", "南"),
    ("刘", "牛"),
)

_HAN = re.compile(r"[\u4e00-\u9fff]")


class Homophones:
    """Which characters an agent may type for a character heard on the phone.

    Three sources, most likely first: the table of commonly confused characters, characters
    with the same sound among the grid's own names (so a slip may land on another village's
    character, the hard case for the locator), and common characters with the same sound.
    """

    def __init__(self, texts: list[str] | None = None) -> None:
        table: dict[str, list[str]] = {}
        for group in HOMOPHONE_GROUPS:
            for char in group:
                table.setdefault(char, []).extend(c for c in group if c != char)
        for a, b in NEAR_HOMOPHONES:
            table.setdefault(a, []).append(b)
            table.setdefault(b, []).append(a)
        self.table = {k: list(dict.fromkeys(v)) for k, v in table.items()}
        # one pass over the joined text: half a million addresses share a few hundred chars
        chars = sorted(c for c in set("".join(texts or ())) if _HAN.match(c))
        self.grid_by_sound: dict[str, list[str]] = {}
        for char in chars:
            self.grid_by_sound.setdefault(char_pinyin(char), []).append(char)

    def candidates(self, char: str) -> list[str]:
        """Every character that may be typed for ``char`` (``char`` itself excluded)."""
        sound = char_pinyin(char)
        out = list(self.table.get(char, ()))
        out += self.grid_by_sound.get(sound, ())
        out += common_characters().get(sound, ())[:12]
        return [c for c in dict.fromkeys(out) if c != char]

    def swap(self, rng: np.random.Generator, char: str) -> str:
        """A homophone of ``char``, or ``char`` when none is known."""
        sound = char_pinyin(char)
        sources = [
            list(self.table.get(char, ())),
            [c for c in self.grid_by_sound.get(sound, ()) if c != char],
            [c for c in common_characters().get(sound, ())[:12] if c != char],
        ]
        weights = np.asarray([0.7, 0.2, 0.1]) * np.asarray([bool(s) for s in sources])
        if weights.sum() == 0:
            return char
        pick = sources[int(rng.choice(3, p=weights / weights.sum()))]
        return pick[int(rng.integers(len(pick)))]


# --- numbers as people say them -----------------------------------------------------------

_DIGITS_ZH = "零一二三四五六七八九"
ROMAN_NUMERALS = {
    "Ⅰ": 1,
    "Ⅱ": 2,
    "Ⅲ": 3,
    "Ⅳ": 4,
    "Ⅴ": 5,
    "Ⅵ": 6,
    "Ⅶ": 7,
    "Ⅷ": 8,
    "Ⅸ": 9,
    "Ⅹ": 10,
    "Ⅺ": 11,
    "Ⅻ": 12,
}


def chinese_number(n: int) -> str:
    """An integer below 10,000 in Chinese numerals, as spoken: 45 → 四十五, 12 → 十二."""
    if n < 0 or n >= 10_000:
        return str(n)
    if n < 10:
        return _DIGITS_ZH[n]
    out = ""
    zero = False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d = (n // value) % 10
        if d == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += ("" if (d == 1 and unit == "十" and not out) else _DIGITS_ZH[d]) + unit
    return out


def full_width(text: str) -> str:
    """ASCII digits and letters as full-width characters (what some phones paste)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


# --- the fields of one call ------------------------------------------------------------------


@dataclass(frozen=True)
class CallerMix:
    """How callers describe where they are: the share of each first way, and how often a
    second way joins it. Defaults follow a storm night at a county centre: the 户号 and the
    village are the most common, phone positions come mostly from the app and WeChat."""

    account: float = 0.34
    address: float = 0.30
    gps: float = 0.17
    pole: float = 0.12
    nothing: float = 0.07
    address_with_account: float = 0.25
    pole_with_address: float = 0.15
    address_with_gps: float = 0.25
    gcj02: float = 0.6  # of phone positions
    cgcs2000: float = 0.05
    swapped: float = 0.03  # lon and lat exchanged
    impossible_position: float = 0.01  # BD-09 or a latitude of 999: dropped by the parser
    homophone: float = 0.35  # of addresses
    pinyin: float = 0.05
    typo: float = 0.08


@dataclass(frozen=True)
class Said:
    """The location fields of a call (CONTRACT section 2 columns), as text, and the ways
    the caller used (``account``, ``address``, ``pole``, ``gps``; empty for nothing)."""

    account_no: str | None = None
    address: str | None = None
    pole_no: str | None = None
    lon: str | None = None
    lat: str | None = None
    coord_sys: str | None = None
    ways: tuple[str, ...] = ()


_ADDRESS = re.compile(
    r"^(?P<town>.+?(?:镇|乡|街道))?"
    r"(?P<village>.+?(?:村|社区|居委会|小区|路|街|大道|巷))?"
    r"(?P<group>(?:\d+|[一二三四五六七八九十]+)(?:组|队))?"
    r"(?P<rest>.*)$"
)
_NUMBER = re.compile(r"\d+")
_SPOKEN_TAILS = ("东头", "西头", "附近", "那边", "路口", "北边", "南头")


class CallerBook:
    """Everything a caller could say about a place on this grid, built once per grid."""

    def __init__(self, data: GridData, model: NetworkModel) -> None:
        self.data = data
        self.model = model
        self.frame = data.frame
        sps = data.layer("service_points")
        self.sp_ids = [str(v) for v in sps["id"].tolist()]
        self.sp_account = [None if v is None else str(v) for v in sps["account_no"].tolist()]
        self.sp_address = [None if v is None else str(v) for v in sps["address"].tolist()]
        self.sp_name = [None if v is None else str(v) for v in sps["name"].tolist()]
        self.sp_phone = [None if v is None else str(v) for v in sps["phone"].tolist()]
        self.sp_transformer = [
            None if v is None else str(v) for v in sps["transformer_id"].tolist()
        ]
        self.sp_lon, self.sp_lat = _point_coords(sps["geometry"].tolist())
        self.sp_x, self.sp_y = self.frame.forward(self.sp_lon, self.sp_lat)

        poles = data.layer("poles")
        self.pole_ids = [str(v) for v in poles["id"].tolist()]
        self.pole_line = [str(v or "") for v in poles["line_name"].tolist()]
        self.pole_number = [str(v or "") for v in poles["number"].tolist()]
        plon, plat = _point_coords(poles["geometry"].tolist())
        px, py = self.frame.forward(plon, plat)
        ok = np.isfinite(px) & np.isfinite(py)
        self._pole_rows = np.flatnonzero(ok)
        self._pole_tree = cKDTree(np.column_stack([px[ok], py[ok]])) if ok.any() else None
        self._pole_feeder: dict[int, str | None] = {}
        self._tr_feeder: dict[str, str | None] = {}

        self._villages = _AreaIndex(data, "village")
        self._townships = _AreaIndex(data, "township")
        places = data.layer("places")
        self.place_names = [str(v) for v in places["name"].tolist()]
        self.place_kind = [str(v or "") for v in places["kind"].tolist()]
        self.place_aliases = [
            [a.strip() for a in str(v).split(";") if a.strip()] if v else []
            for v in places["aliases"].tolist()
        ]
        self.aliases_of: dict[str, list[str]] = {}
        for name, aliases in zip(self.place_names, self.place_aliases, strict=True):
            if aliases:
                self.aliases_of.setdefault(name, []).extend(aliases)
                bare = name.removesuffix("村")
                if bare != name:
                    self.aliases_of.setdefault(bare, []).extend(a for a in aliases if a != bare)
        qlon, qlat = _point_coords(places["geometry"].tolist())
        qx, qy = self.frame.forward(qlon, qlat)
        okq = np.isfinite(qx) & np.isfinite(qy)
        self._place_rows = np.flatnonzero(okq)
        self._place_tree = cKDTree(np.column_stack([qx[okq], qy[okq]])) if okq.any() else None

        texts = [a for a in self.sp_address if a]
        texts += self.place_names + [a for al in self.place_aliases for a in al]
        texts += [str(v) for v in data.layer("admin_areas")["name"].tolist() if v]
        self.homophones = Homophones(texts)
        self.has_addresses = any(self.sp_address)
        self.has_poles = self._pole_tree is not None

    # -- places ---------------------------------------------------------------------------

    def transformer_feeder(self, transformer_id: str | None) -> str | None:
        if transformer_id is None:
            return None
        if transformer_id not in self._tr_feeder:
            try:
                self._tr_feeder[transformer_id] = self.model.feeder_of(transformer_id)
            except UnknownElementError:
                self._tr_feeder[transformer_id] = None
        return self._tr_feeder[transformer_id]

    def pole_feeder(self, row: int) -> str | None:
        if row not in self._pole_feeder:
            try:
                self._pole_feeder[row] = self.model.feeder_of(self.pole_ids[row])
            except UnknownElementError:
                self._pole_feeder[row] = None
        return self._pole_feeder[row]

    def nearest_pole(
        self, x: float, y: float, feeder: str | None = None, radius: float = 400.0
    ) -> int | None:
        """The pole a caller at (x, y) would read: the nearest on the feeder that supplies
        them when one stands within ``radius``, else the nearest within 300 m."""
        if self._pole_tree is None or not (math.isfinite(x) and math.isfinite(y)):
            return None
        k = min(12, len(self._pole_rows))
        dist, idx = self._pole_tree.query([x, y], k=k)
        dists = np.atleast_1d(dist)
        rows = self._pole_rows[np.atleast_1d(idx)]
        if feeder is not None:
            for d, row in zip(dists.tolist(), rows.tolist(), strict=True):
                if d <= radius and self.pole_feeder(int(row)) == feeder:
                    return int(row)
        if dists[0] <= 300.0:
            return int(rows[0])
        return None

    def nearby_place(
        self, x: float, y: float, radius: float, kinds: tuple[str, ...] = ()
    ) -> int | None:
        if self._place_tree is None or not (math.isfinite(x) and math.isfinite(y)):
            return None
        k = min(8, len(self._place_rows))
        dist, idx = self._place_tree.query([x, y], k=k)
        for d, i in zip(np.atleast_1d(dist).tolist(), np.atleast_1d(idx).tolist(), strict=True):
            row = int(self._place_rows[int(i)])
            if d <= radius and (not kinds or self.place_kind[row] in kinds):
                return row
        return None

    def area_words(self, lon: float, lat: float) -> str | None:
        """The township and village (or the nearest named place) of a position, as a caller
        without a house number would say it."""
        village = self._villages.name_at(lon, lat)
        town = self._townships.name_at(lon, lat)
        if village:
            return (town or "") + village
        x, y = self.frame.forward_one(lon, lat)
        row = self.nearby_place(x, y, 1500.0)
        if row is not None:
            return self.place_names[row]
        return town

    # -- one caller ---------------------------------------------------------------------------

    def customer(
        self,
        rng: np.random.Generator,
        row: int,
        mix: CallerMix,
        *,
        app: bool = False,
        repair: bool = True,
    ) -> Said:
        """What the customer of service point ``row`` says about where they are. ``app``:
        the call came through the app or WeChat, which attach the phone's position;
        ``repair``: a fault report (other callers do not go out to read a pole)."""
        ways = self._first_ways(rng, row, mix, repair)
        if app and "gps" not in ways and math.isfinite(float(self.sp_lon[row])):
            ways.append("gps")
        fields: dict[str, str | None] = {}
        for way in ways:
            if way == "account":
                fields["account_no"] = say_account(rng, self.sp_account[row])
            elif way == "address":
                fields["address"] = self.say_address(rng, row, mix)
            elif way in ("pole", "short_pole"):
                pole = self.nearest_pole(
                    float(self.sp_x[row]),
                    float(self.sp_y[row]),
                    self.transformer_feeder(self.sp_transformer[row]),
                )
                if pole is not None:
                    fields["pole_no"] = say_pole(
                        rng, self.pole_line[pole], self.pole_number[pole], short=way == "short_pole"
                    )
            elif way == "gps":
                fields.update(
                    self.phone_position(
                        rng, float(self.sp_lon[row]), float(self.sp_lat[row]), mix, app=app
                    )
                )
        if not any(fields.get(k) for k in ("account_no", "address", "pole_no", "lon")):
            fields["address"] = _vague(rng)
        used = tuple(
            w
            for w, key in (
                ("account", "account_no"),
                ("address", "address"),
                ("pole", "pole_no"),
                ("gps", "lon"),
            )
            if fields.get(key) and not (key == "address" and _is_vague(fields[key]))
        )
        return Said(
            account_no=fields.get("account_no"),
            address=fields.get("address"),
            pole_no=fields.get("pole_no"),
            lon=fields.get("lon"),
            lat=fields.get("lat"),
            coord_sys=fields.get("coord_sys"),
            ways=used,
        )

    def _first_ways(
        self, rng: np.random.Generator, row: int, mix: CallerMix, repair: bool = True
    ) -> list[str]:
        can_address = (
            bool(self.sp_address[row]) or self._villages.available or (self._place_tree is not None)
        )
        weights = {
            "account": mix.account if self.sp_account[row] else 0.0,
            "address": mix.address if can_address else 0.0,
            "gps": mix.gps if math.isfinite(float(self.sp_lon[row])) else 0.0,
            "pole": mix.pole if self.has_poles and repair else 0.0,
            "nothing": mix.nothing,
        }
        names = list(weights)
        p = np.asarray([weights[n] for n in names], dtype=float)
        if p.sum() <= 0:
            return []
        first = names[int(rng.choice(len(names), p=p / p.sum()))]
        if first == "nothing":
            return []
        ways = [first]
        if first == "account" and can_address and rng.random() < mix.address_with_account:
            ways.append("address")
        if first == "address" and self.has_poles and rng.random() < mix.pole_with_address:
            ways.append("short_pole")
        if first == "gps" and can_address and rng.random() < mix.address_with_gps:
            ways.append("address")
        return ways

    def say_address(self, rng: np.random.Generator, row: int, mix: CallerMix) -> str:
        """The customer's address as the agent types it."""
        text = self.sp_address[row]
        if not text:
            words = self.area_words(float(self.sp_lon[row]), float(self.sp_lat[row]))
            text = words or _vague(rng)
        return garble_address(rng, text, self.homophones, mix, aliases=self.aliases_of)

    def phone_position(
        self, rng: np.random.Generator, lon: float, lat: float, mix: CallerMix, *, app: bool = False
    ) -> dict[str, str | None]:
        """A phone's reading of (lon, lat): tens to hundreds of metres off, GCJ-02 from map
        apps, sometimes with lon and lat exchanged or in a system the hotline cannot read."""
        error = min(float(rng.lognormal(math.log(35.0), 0.8)), 600.0)
        bearing = float(rng.uniform(0, 2 * math.pi))
        x, y = self.frame.forward_one(lon, lat)
        plon, plat = self.frame.inverse_one(
            x + error * math.cos(bearing), y + error * math.sin(bearing)
        )
        u = rng.random()
        gcj = mix.gcj02 if not app else max(mix.gcj02, 0.85)
        if u < gcj:
            plon, plat = wgs84_to_gcj02(plon, plat)
            system = "GCJ02"
        elif u < gcj + mix.cgcs2000:
            system = "CGCS2000"
        else:
            system = "WGS84"
        lon_text, lat_text = f"{plon:.6f}", f"{plat:.6f}"
        if rng.random() < mix.impossible_position:
            if rng.random() < 0.5:
                system = "BD09"  # Baidu's own offset: unknown to the hotline, dropped
            else:
                lat_text = "999"
        elif rng.random() < mix.swapped:
            lon_text, lat_text = lat_text, lon_text
        return {"lon": lon_text, "lat": lat_text, "coord_sys": system}

    def passerby(self, rng: np.random.Generator, lon: float, lat: float, mix: CallerMix) -> Said:
        """Someone who is not a customer reporting what they see at (lon, lat): a downed line,
        a burning transformer. They know the pole, the village, or share a position."""
        x, y = self.frame.forward_one(lon, lat)
        fields: dict[str, str | None] = {}
        pole = self.nearest_pole(x, y, None, radius=200.0)
        if pole is not None and rng.random() < 0.7:
            fields["pole_no"] = say_pole(rng, self.pole_line[pole], self.pole_number[pole])
        if rng.random() < 0.5 or not fields:
            fields.update(self.phone_position(rng, lon, lat, mix))
        if rng.random() < 0.5 or not fields:
            words = self.area_words(lon, lat)
            if words:
                fields["address"] = garble_address(
                    rng,
                    words + str(rng.choice(_SPOKEN_TAILS)),
                    self.homophones,
                    mix,
                    aliases=self.aliases_of,
                )
        used = tuple(
            w
            for w, key in (("address", "address"), ("pole", "pole_no"), ("gps", "lon"))
            if fields.get(key)
        )
        return Said(
            address=fields.get("address"),
            pole_no=fields.get("pole_no"),
            lon=fields.get("lon"),
            lat=fields.get("lat"),
            coord_sys=fields.get("coord_sys"),
            ways=used,
        )

    def newcomer(self, rng: np.random.Generator, row: int, mix: CallerMix) -> Said:
        """A future customer (new connection) near service point ``row``: no account yet, a
        house number that does not exist yet."""
        text = (
            self.sp_address[row]
            or self.area_words(float(self.sp_lon[row]), float(self.sp_lat[row]))
            or _vague(rng)
        )
        text = (
            _NUMBER.sub(lambda m: str(int(m.group()) + 100 + int(rng.integers(50))), text, count=2)
            if _NUMBER.search(text)
            else text + "新建房"
        )
        fields: dict[str, str | None] = {"address": garble_address(rng, text, self.homophones, mix)}
        if rng.random() < 0.3 and math.isfinite(float(self.sp_lon[row])):
            fields.update(
                self.phone_position(rng, float(self.sp_lon[row]), float(self.sp_lat[row]), mix)
            )
        return Said(
            address=fields.get("address"),
            lon=fields.get("lon"),
            lat=fields.get("lat"),
            coord_sys=fields.get("coord_sys"),
            ways=("address",),
        )

    def caller_contact(self, rng: np.random.Generator, row: int | None) -> tuple[str, str | None]:
        """(phone, name) of a caller: the account's own number and name most of the time, a
        family member's mobile otherwise."""
        phone = self.sp_phone[row] if row is not None else None
        name = self.sp_name[row] if row is not None else None
        if phone is None or rng.random() < 0.3:
            phone = random_mobile(rng)
        if name is None or rng.random() < 0.35:
            name = random_person(rng) if rng.random() < 0.7 else None
        return phone, name


class _AreaIndex:
    """Names of admin areas of one level, by position."""

    def __init__(self, data: GridData, level: str) -> None:
        areas = data.layer("admin_areas")
        keep = [
            i
            for i, lv in enumerate(areas["level"].tolist())
            if lv == level and areas["geometry"].iat[i] is not None
        ]
        self.names = [str(areas["name"].iat[i]) for i in keep]
        geoms = np.asarray([areas["geometry"].iat[i] for i in keep], dtype=object)
        self.tree = shapely.STRtree(geoms) if len(geoms) else None
        self.available = self.tree is not None

    def name_at(self, lon: float, lat: float) -> str | None:
        if self.tree is None:
            return None
        hits = self.tree.query(shapely.Point(lon, lat), predicate="intersects")
        return self.names[int(min(hits))] if len(hits) else None


def _point_coords(
    geoms: list[Any],
) -> tuple[np.ndarray[Any, np.dtype[np.float64]], np.ndarray[Any, np.dtype[np.float64]]]:
    lon = np.full(len(geoms), np.nan)
    lat = np.full(len(geoms), np.nan)
    for i, g in enumerate(geoms):
        if g is None or g.is_empty:
            continue
        p = g if g.geom_type == "Point" else g.representative_point()
        lon[i], lat[i] = p.x, p.y
    return lon, lat


# --- the ways of saying -------------------------------------------------------------------------


def say_account(rng: np.random.Generator, account: str | None) -> str | None:
    """A 户号 as typed: usually clean, sometimes grouped with spaces, pasted in full-width
    digits, or with its leading zero lost in a spreadsheet."""
    if not account:
        return None
    u = rng.random()
    if u < 0.70:
        return account
    if u < 0.85:
        step = 4 if rng.random() < 0.6 else 3
        return " ".join(account[i : i + step] for i in range(0, len(account), step))
    if u < 0.95:
        return full_width(account)
    if account.startswith("0"):
        return account.lstrip("0") or account
    return f" {account} "


def say_pole(rng: np.random.Generator, line_name: str, number: str, *, short: bool = False) -> str:
    """A pole label as a caller reads or says it: ``城关Ⅰ线45号杆``, ``城关1线 45``,
    ``城关一线第45基``, ``45#``, ``45-3``; ``short`` gives the number alone (the caller's
    address says where)."""
    number = number.strip()
    branch = "-" in number
    spoken_number = _say_pole_number(rng, number, branch)
    if short:
        return spoken_number
    name = _say_line_name(rng, line_name)
    if _HAN.search(name):
        sep = " " if rng.random() < 0.2 else ""
        return f"{name}{sep}{spoken_number}"
    forms = (
        f"{name} #{number}",
        f"{name} pole {number}",
        f"{name}-{number}",
        f"{name} {spoken_number}",
    )
    return forms[int(rng.integers(len(forms)))]


def _say_pole_number(rng: np.random.Generator, number: str, branch: bool) -> str:
    if branch:
        forms = (f"{number}号杆", number, f"{number}#", f"{number}号")
        return forms[int(rng.integers(len(forms)))]
    u = rng.random()
    if u < 0.35:
        return f"{number}号杆"
    if u < 0.50:
        return number
    if u < 0.62:
        return f"第{number}基"
    if u < 0.72:
        return f"{number}#"
    if u < 0.80:
        return f"{number}号"
    if u < 0.90 and number.isdigit():
        return f"{chinese_number(int(number))}号杆"
    if number.isdigit():
        return f"{full_width(number)}号杆"
    return number


def _say_line_name(rng: np.random.Generator, line_name: str) -> str:
    name = line_name.strip()
    if rng.random() < 0.8:
        name = re.sub(r"^(10\s*[kK][vV]|10千伏)\s*", "", name)
    roman = next((r for r in ROMAN_NUMERALS if r in name), None)
    if roman is not None:
        u = rng.random()
        if u < 0.35:
            name = name.replace(roman, str(ROMAN_NUMERALS[roman]))
        elif u < 0.65:
            name = name.replace(roman, chinese_number(ROMAN_NUMERALS[roman]))
    if name.endswith("线") and rng.random() < 0.05:
        name = name[:-1]
    return name


def garble_address(
    rng: np.random.Generator,
    text: str,
    homophones: Homophones,
    mix: CallerMix,
    aliases: dict[str, list[str]] | None = None,
) -> str:
    """An address as an agent types it from what they heard: parts left out, numbers in
    words, a homophone or a slip of the keyboard, an alias of the village, or pinyin."""
    if not _HAN.search(text):
        return _garble_latin(rng, text, mix)
    m = _ADDRESS.match(text)
    town, village, group, rest = (
        (
            m.group("town") or "",
            m.group("village") or "",
            m.group("group") or "",
            m.group("rest") or "",
        )
        if m
        else ("", "", "", text)
    )
    if village and town and rng.random() < 0.5:
        town = ""  # callers seldom say their township
    if village and group and rng.random() < 0.15:
        group = ""
    if village and rest and rng.random() < 0.2:
        rest = ""
    if group and rng.random() < 0.2:
        group = _NUMBER.sub(lambda g: chinese_number(int(g.group())), group)
    if village and aliases and rng.random() < 0.12:
        village = _alias(rng, village, aliases)
    if rng.random() < mix.homophone:
        swaps = 2 if rng.random() < 0.15 else 1
        for _ in range(swaps):
            if village and (not town or rng.random() < 0.8):
                village = _swap_one(rng, village, homophones)
            elif town:
                town = _swap_one(rng, town, homophones)
            else:
                rest = _swap_one(rng, rest, homophones)
    if rng.random() < mix.typo:
        if village:
            village = _slip(rng, village)
        else:
            rest = _slip(rng, rest)
    if village and rng.random() < mix.pinyin:
        village = "".join(lazy_pinyin(village, style=Style.NORMAL))
        if rng.random() < 0.5:
            group = _pinyin_words(group)
            rest = _pinyin_words(rest)
            town = _pinyin_words(town)
            return " ".join(w for w in (town, village, group, rest) if w)
    out = town + village + group + rest
    if rng.random() < 0.08:
        out += str(rng.choice(_SPOKEN_TAILS))
    return out or text


def _pinyin_words(text: str) -> str:
    return "".join(lazy_pinyin(text, style=Style.NORMAL)) if text else ""


def _alias(rng: np.random.Generator, village: str, aliases: dict[str, list[str]]) -> str:
    options = aliases.get(village) or aliases.get(village.removesuffix("村"), [])
    options = [a for a in options if a not in (village, village.removesuffix("村"))]
    if not options:
        return village
    return options[int(rng.integers(len(options)))]


_SUFFIXES = "村镇乡组号路街巷社区"


def _swap_one(rng: np.random.Generator, word: str, homophones: Homophones) -> str:
    """Replaces one character of a name (not its 村/镇 suffix) by a homophone."""
    positions = [
        i
        for i, c in enumerate(word)
        if _HAN.match(c) and not (i == len(word) - 1 and c in _SUFFIXES)
    ]
    if not positions:
        return word
    i = positions[int(rng.integers(len(positions)))]
    return word[:i] + homophones.swap(rng, word[i]) + word[i + 1 :]


def _slip(rng: np.random.Generator, word: str) -> str:
    """A slip of the keyboard: a character left out or doubled, the suffix dropped."""
    if len(word) < 2:
        return word
    u = rng.random()
    if u < 0.4 and word[-1] in _SUFFIXES:
        return word[:-1]
    if u < 0.7 and len(word) >= 3:
        i = int(rng.integers(len(word) - 1))
        return word[:i] + word[i + 1 :]
    i = int(rng.integers(len(word)))
    return word[: i + 1] + word[i:]


def _garble_latin(rng: np.random.Generator, text: str, mix: CallerMix) -> str:
    """An address in Latin letters (grids named in English or pinyin): case, a dropped or
    exchanged letter, the house number left out."""
    out = text
    if rng.random() < 0.3:
        out = out.lower()
    if rng.random() < 0.15:
        out = re.sub(r"\s*(No\.?|#)\s*\d+\s*$", "", out) or out
    if rng.random() < mix.typo * 2 and len(out) > 4:
        i = int(rng.integers(1, len(out) - 2))
        if rng.random() < 0.5:
            out = out[:i] + out[i + 1] + out[i] + out[i + 2 :]
        else:
            out = out[:i] + out[i + 1 :]
    return out


_VAGUE = ("村里", "我家", "就在这边", "俺村", "村东头", "不知道")


def _vague(rng: np.random.Generator) -> str:
    return str(rng.choice(_VAGUE))


def _is_vague(text: str | None) -> bool:
    return text in _VAGUE


# --- people ---------------------------------------------------------------------------------

_SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高郭马何罗梁宋郑谢韩唐冯于董程曹袁邓许沈彭吕苏卢蒋蔡"
_GIVEN = (
    "建国",
    "秀英",
    "志强",
    "桂兰",
    "国庆",
    "红霞",
    "伟",
    "芳",
    "海燕",
    "卫东",
    "丽娟",
    "明",
    "建华",
    "玉兰",
    "磊",
    "静",
    "保国",
    "春花",
)
_MOBILE_PREFIXES = (
    130,
    131,
    132,
    135,
    136,
    137,
    138,
    139,
    150,
    151,
    155,
    158,
    159,
    166,
    176,
    177,
    180,
    183,
    185,
    186,
    187,
    188,
    189,
    199,
)


def random_mobile(rng: np.random.Generator) -> str:
    prefix = _MOBILE_PREFIXES[int(rng.integers(len(_MOBILE_PREFIXES)))]
    return f"{prefix}{int(rng.integers(0, 100_000_000)):08d}"


def random_person(rng: np.random.Generator) -> str:
    return _SURNAMES[int(rng.integers(len(_SURNAMES)))] + _GIVEN[int(rng.integers(len(_GIVEN)))]
