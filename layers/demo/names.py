"""Name pools for the demo county (兰考县): townships, villages, streets, people, businesses.

Names are what agents hear on the phone, so they follow local usage: villages are a surname
and a settlement word (张庄, 王寨, 胡楼) or a position and a surname (后李, 东赵); people are
named from the surnames common in eastern Henan; shops and firms carry the owner's or the
place's name. Everything is drawn from a seeded :class:`numpy.random.Generator`, so a seed
always gives the same names.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

ROMAN = ("Ⅰ", "Ⅱ", "Ⅲ", "Ⅳ")
CHINESE_ORDINALS = ("一", "二", "三", "四", "五", "六")


@dataclass(frozen=True)
class TownshipSpec:
    """One township: its full name, the short form locals use, and a rough position (km from
    the county seat, east and north)."""

    name: str
    short: str
    x_km: float
    y_km: float
    unit: str  # the 供电所 that serves it (short name)
    area_class: str  # of that unit's territory


# Ten of 兰考县's townships, placed roughly where they are (the seat in the middle, 东坝头 at
# the Yellow River bend in the north-west, 考城 in the north-east).
TOWNSHIPS: tuple[TownshipSpec, ...] = (
    TownshipSpec("城关镇", "城关", 0.0, 0.0, "城关", "urban"),
    TownshipSpec("三义寨乡", "三义寨", -8.0, 5.5, "三义寨", "rural"),
    TownshipSpec("东坝头乡", "东坝头", -12.0, 10.0, "东坝头", "remote"),
    TownshipSpec("谷营镇", "谷营", 3.0, 11.0, "谷营", "rural"),
    TownshipSpec("考城镇", "考城", 11.5, 9.5, "考城", "remote"),
    TownshipSpec("仪封乡", "仪封", 11.0, 0.5, "仪封", "rural"),
    TownshipSpec("红庙镇", "红庙", 10.0, -9.0, "红庙", "rural"),
    TownshipSpec("南彰镇", "南彰", 1.5, -11.0, "南彰", "rural"),
    TownshipSpec("张君墓镇", "张君墓", -8.0, -9.0, "南彰", "rural"),
    TownshipSpec("堌阳镇", "堌阳", -12.5, -1.5, "堌阳", "rural"),
)

# Surnames of eastern Henan, most common first, with rough weights.
SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高郭马何罗梁宋郑谢韩唐冯于董程曹袁邓许沈彭吕苏卢蒋蔡贾丁"
    "魏薛叶阎余潘杜戴夏田任姜范方石姚谭孟邵侯史段秦常乔牛耿岳申葛翟闫齐"
)
_SURNAME_WEIGHTS = np.asarray([1.0 / (1 + 0.08 * i) for i in range(len(SURNAMES))])
SURNAME_P = _SURNAME_WEIGHTS / _SURNAME_WEIGHTS.sum()

_MALE = (
    "建国 建军 建华 国强 国庆 志强 志刚 卫东 卫国 新民 振华 保国 爱民 永强 明亮 红旗 铁柱 "
    "海军 俊杰 文杰 晓东 浩然 子轩 宇航 金山 长顺 富贵 德胜 学军 春生 伟 磊 军 勇 强 涛 "
    "斌 鹏 超 杰 刚 辉 峰 亮 东 林 华 平 明 兵"
)
_FEMALE = (
    "秀英 桂兰 玉兰 淑珍 秀兰 凤英 红霞 海燕 丽娟 金凤 玉梅 春花 桂英 素芬 翠花 爱华 美玲 "
    "晓燕 丽萍 欣怡 梓涵 雨萱 思雨 丽 静 敏 燕 娟 霞 芳 艳 婷 雪 萍 红 英 梅 琳 玲"
)
MALE_GIVEN = tuple(_MALE.split(" "))
FEMALE_GIVEN = tuple(_FEMALE.split(" "))

# Settlement words that follow a surname in Henan village names.
VILLAGE_SUFFIXES = "庄寨楼屯集营岗庙店堂湾园桥口固坊窑台铺"
_SUFFIX_WEIGHTS = np.asarray(
    [10, 7, 6, 4, 3, 4, 3, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1], dtype=float
)
SUFFIX_P = _SUFFIX_WEIGHTS / _SUFFIX_WEIGHTS.sum()
POSITION_PREFIXES = "东西南北前后大小老新"
_NATURE = (
    "杨树林 柳园 桐树庄 槐树湾 杏花营 葡萄架 枣林 梨园 荷花池 "
    "榆树湾 桃园 苇子坑 沙窝 黄河湾 老官寨 孟寨 双井 三合"
)
NATURE_VILLAGES = tuple(_NATURE.split(" "))

# The county seat's streets: east-west (north to south) and north-south (west to east).
URBAN_EW_STREETS = ("黄河路", "兰阳路", "中山街", "裕禄大道", "民主街", "中州路", "南环路")
_NS = "西环路 金港大道 建设路 人民路 文化路 工业路 桐乡路 汴京路 东环路"
URBAN_NS_STREETS = tuple(_NS.split(" "))
URBAN_ONEWAY = {"中山街": -1, "民主街": 1}  # one-way, westbound (-1) or eastbound (+1)
URBAN_ARTERIALS = frozenset(
    {"裕禄大道", "黄河路", "南环路", "西环路", "东环路", "文化路", "金港大道"}
)

_PREFIXES = (
    "130 131 132 133 134 135 136 137 138 139 150 151 152 155 156 157 158 159 "
    "166 173 175 176 177 178 180 181 182 183 185 186 187 188 189 198 199"
)
PHONE_PREFIXES = np.asarray([int(p) for p in _PREFIXES.split(" ")], dtype=np.int64)

_SHOPS = (
    "超市 便利店 小卖部 饭店 烩面馆 理发店 农资店 五金店 药店 电动车行 粮油店 服装店 手机店 诊所"
)
SHOP_KINDS = tuple(_SHOPS.split(" "))
WORKSHOP_KINDS = ("面粉加工厂", "木器加工厂", "板材厂", "乐器厂", "塑料厂", "养殖场")
_FIRMS = "桐韵 豫兴 鑫源 恒达 金桐 华兴 宏远 永盛 盛世 中原 黄河 裕丰 万佳 福瑞 祥和 兴隆"
FIRM_WORDS = tuple(_FIRMS.split(" "))


@dataclass(frozen=True)
class VillageName:
    """A village name as written (张庄村), its bare form (张庄), the other forms locals use,
    and the surname most of its families carry ('' when the name has none)."""

    full: str
    bare: str
    aliases: tuple[str, ...]
    surname: str


def village_names(rng: np.random.Generator, n: int, taken: set[str]) -> list[VillageName]:
    """``n`` distinct village names, none of them in ``taken`` (which grows)."""
    out: list[VillageName] = []
    nature = list(NATURE_VILLAGES)
    while len(out) < n:
        aliases: tuple[str, ...]
        pattern = rng.random()
        surname = SURNAMES[int(rng.choice(len(SURNAMES), p=SURNAME_P))]
        suffix = VILLAGE_SUFFIXES[int(rng.choice(len(VILLAGE_SUFFIXES), p=SUFFIX_P))]
        prefix = POSITION_PREFIXES[int(rng.integers(len(POSITION_PREFIXES)))]
        if pattern < 0.55:
            bare = surname + suffix
            aliases = (bare, f"{surname}家{suffix}")
        elif pattern < 0.80:
            bare = prefix + surname
            aliases = (bare, f"{bare}庄")
        elif pattern < 0.96:
            bare = prefix + surname + suffix
            aliases = (bare, f"{prefix}{surname}家{suffix}")
        else:
            if not nature:
                continue
            bare = nature.pop(int(rng.integers(len(nature))))
            surname = ""
            aliases = (bare,)
        full = bare if bare.endswith("村") else bare + "村"
        if full in taken or bare in taken:
            continue
        taken.add(full)
        taken.add(bare)
        out.append(VillageName(full, bare, aliases, surname))
    return out


def person_names(
    rng: np.random.Generator, n: int, local_surname: str = "", local_share: float = 0.0
) -> list[str]:
    """``n`` people's names; ``local_share`` of them carry the village's own surname, as in
    single-clan villages of the plain."""
    if n == 0:
        return []
    sur_idx = rng.choice(len(SURNAMES), size=n, p=SURNAME_P)
    female = rng.random(n) < 0.35  # the account holder is usually the head of household
    male_idx = rng.integers(len(MALE_GIVEN), size=n)
    female_idx = rng.integers(len(FEMALE_GIVEN), size=n)
    local = rng.random(n) < local_share if local_surname else np.zeros(n, dtype=bool)
    names = []
    for i in range(n):
        surname = local_surname if local[i] else SURNAMES[int(sur_idx[i])]
        given = FEMALE_GIVEN[int(female_idx[i])] if female[i] else MALE_GIVEN[int(male_idx[i])]
        names.append(surname + given)
    return names


def mobile_numbers(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` eleven-digit mainland mobile numbers (deterministic, not real subscribers)."""
    prefix = PHONE_PREFIXES[rng.integers(len(PHONE_PREFIXES), size=n)]
    rest = rng.integers(0, 100_000_000, size=n)
    return [f"{int(p)}{int(r):08d}" for p, r in zip(prefix.tolist(), rest.tolist(), strict=True)]


def landline_numbers(rng: np.random.Generator, n: int) -> list[str]:
    """Kaifeng-area landlines (兰考 numbers are 0371-2699xxxx)."""
    rest = rng.integers(0, 10_000, size=n)
    return [f"0371-2699{int(r):04d}" for r in rest.tolist()]


def shop_names(rng: np.random.Generator, owners: list[str], place: str) -> list[str]:
    """Small-business names the way their signs read: 老王超市, 张庄便民超市, 李记饭店."""
    out = []
    kinds = rng.integers(len(SHOP_KINDS), size=len(owners))
    styles = rng.integers(3, size=len(owners))
    for owner, k, style in zip(owners, kinds.tolist(), styles.tolist(), strict=True):
        kind = SHOP_KINDS[k]
        if style == 0:
            out.append(f"{place}{kind}")
        elif style == 1:
            out.append(f"{owner[0]}记{kind}")
        else:
            out.append(f"{owner}{kind}")
    return out


def workshop_names(rng: np.random.Generator, n: int, place: str) -> list[str]:
    """Small rural workshops: 张庄面粉加工厂, 兰考县鑫源板材厂."""
    kinds = rng.integers(len(WORKSHOP_KINDS), size=n)
    firms = rng.integers(len(FIRM_WORDS), size=n)
    styles = rng.random(n) < 0.5
    return [
        f"{place}{WORKSHOP_KINDS[k]}" if s else f"兰考县{FIRM_WORDS[f]}{WORKSHOP_KINDS[k]}"
        for k, f, s in zip(kinds.tolist(), firms.tolist(), styles.tolist(), strict=True)
    ]


def numbered(prefix: str, n: int, width: int) -> npt.NDArray[np.object_]:
    """``prefix`` followed by 1..n zero-padded: asset codes and node names."""
    return np.asarray([f"{prefix}{i:0{width}d}" for i in range(1, n + 1)], dtype=object)
