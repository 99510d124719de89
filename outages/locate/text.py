"""Text as callers say it and agents type it: width, numerals, pinyin.

Everything that compares names goes through here, so that the index side (layer data) and
the query side (a call) are normalised by the same functions: a mismatch between the two
would turn every comparison into a near miss.

Names are compared in three spellings at once (see :class:`Spelled`): the characters, the
toneless pinyin syllables (a homophone typed by the agent spells the same) and the pinyin
letters (a near-homophone or a mistyped pinyin letter costs one letter, not a syllable).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from pypinyin import Style, lazy_pinyin

# -- width and punctuation ------------------------------------------------------------------

_DASHES = str.maketrans({c: "-" for c in "‐‑‒–—―−－"})


def nfkc(text: str) -> str:
    """Full-width digits and letters to ASCII, Roman numeral signs (Ⅱ) to letters (II),
    ideographic space to space, all dashes to ``-``."""
    return unicodedata.normalize("NFKC", text).translate(_DASHES)


def is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" or ch in "〇"


def has_cjk(text: str) -> bool:
    return any(is_cjk(c) for c in text)


# -- numerals -------------------------------------------------------------------------------

CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "洞": 0,
    "一": 1,
    "幺": 1,
    "壹": 1,
    "二": 2,
    "两": 2,
    "贰": 2,
    "三": 3,
    "叁": 3,
    "四": 4,
    "肆": 4,
    "五": 5,
    "伍": 5,
    "六": 6,
    "陆": 6,
    "七": 7,
    "柒": 7,
    "拐": 7,
    "八": 8,
    "捌": 8,
    "九": 9,
    "玖": 9,
    "勾": 9,
}
CN_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
# Radio-style digit words (幺 for 1, 拐 for 7, 洞 for 0, 勾 for 9) only count in a run of two
# or more numerals (幺五 is 15); on their own they are ordinary characters.
CN_NUMERAL_CHARS = "".join(CN_DIGITS) + "".join(CN_UNITS)
_PLAIN_CN = "零〇一二两三四五六七八九十百千壹贰叁肆伍陆柒捌玖拾佰仟"
CN_NUM_RE = f"(?:[{_PLAIN_CN}]|[幺拐洞勾](?=[{CN_NUMERAL_CHARS}]))[{CN_NUMERAL_CHARS}]*"
NUM_RE = rf"(?:\d+|{CN_NUM_RE})"


def cn_to_int(text: str) -> int | None:
    """Reads a Chinese numeral: positional (``四十五`` 45, ``一百零五`` 105, ``十五`` 15) or
    digit by digit as numbers are read out (``四五`` 45, ``一零五`` 105)."""
    if not text:
        return None
    if any(c not in CN_DIGITS and c not in CN_UNITS for c in text):
        return None
    if not any(c in CN_UNITS for c in text):
        value = 0
        for c in text:
            value = value * 10 + CN_DIGITS[c]
        return value
    total = 0
    current = 0
    for c in text:
        if c in CN_DIGITS:
            current = CN_DIGITS[c]
        else:
            total += (current or 1) * CN_UNITS[c]
            current = 0
    return total + current


ROMAN_VALUES = {"i": 1, "v": 5, "x": 10, "l": 50}


def roman_to_int(text: str) -> int | None:
    """``iv`` 4, ``xii`` 12; ``None`` for anything that is not a plain Roman numeral."""
    t = text.lower()
    if not t or any(c not in ROMAN_VALUES for c in t) or len(t) > 6:
        return None
    total = 0
    for i, c in enumerate(t):
        v = ROMAN_VALUES[c]
        if i + 1 < len(t) and ROMAN_VALUES[t[i + 1]] > v:
            total -= v
        else:
            total += v
    return total if total > 0 else None


def number_text(text: str) -> str | None:
    """A number said any way (``45``, ``045``, ``四十五``, ``IV``) as canonical digits."""
    t = nfkc(text).strip()
    if t.isdigit():
        return str(int(t))
    n = cn_to_int(t)
    if n is None:
        n = roman_to_int(t)
    return None if n is None else str(n)


def numbered_label(text: str) -> str | None:
    """A pole or house label such as ``45``, ``45-3``, ``四十五-三`` as ``45-3``."""
    parts = [p for p in nfkc(text).strip().split("-")]
    out = []
    for p in parts:
        n = number_text(p)
        if n is None:
            return None
        out.append(n)
    return "-".join(out) if out else None


# -- pinyin -----------------------------------------------------------------------------------

_CHAR_PINYIN: dict[str, str] = {}


def char_pinyin(ch: str) -> str:
    """The toneless default reading of one character (cached: pypinyin costs microseconds a
    call, and a county's names use a few thousand characters)."""
    py = _CHAR_PINYIN.get(ch)
    if py is None:
        out = lazy_pinyin(ch, style=Style.NORMAL)
        py = _CHAR_PINYIN[ch] = out[0] if len(out) == 1 else ch
    return py


@lru_cache(maxsize=200_000)
def pinyin_units(text: str) -> tuple[str, ...]:
    """Toneless pinyin of a CJK string, one syllable per character, each character read
    alone. Queries are spelled this way (fast, and an agent who types the syllable heard
    picks a character whose own reading is that syllable)."""
    return tuple(char_pinyin(c) for c in text)


def context_units(text: str) -> tuple[str, ...]:
    """Toneless pinyin read in context (长垣 chang yuan, not zhang yuan): names in the index
    are spelled this way too, so that a homophone of the spoken reading matches."""
    out = lazy_pinyin(text, style=Style.NORMAL)
    return tuple(out) if len(out) == len(text) else pinyin_units(text)


@lru_cache(maxsize=1)
def common_characters() -> dict[str, tuple[str, ...]]:
    """Toneless syllable -> the common characters that spell it (GB 2312 level 1, the 3,755
    characters an input method offers first): the homophones an agent may type."""
    out: dict[str, list[str]] = {}
    for hi in range(0xB0, 0xD8):
        for lo in range(0xA1, 0xFF):
            if hi == 0xD7 and lo > 0xF9:
                break
            try:
                ch = bytes([hi, lo]).decode("gb2312")
            except UnicodeDecodeError:
                continue
            syl = pinyin_units(ch)[0]
            out.setdefault(syl, []).append(ch)
    return {k: tuple(v) for k, v in out.items()}


@lru_cache(maxsize=1)
def syllables() -> frozenset[str]:
    """Every toneless syllable of the common characters (for splitting typed pinyin)."""
    return frozenset(s for s in common_characters() if s.isalpha())


def split_pinyin(letters: str) -> tuple[str, ...]:
    """Splits typed pinyin (``zhangzhuang``) into syllables (``zhang``, ``zhuang``) with the
    fewest syllables; a letter that fits nowhere (a typo) stands alone."""
    known = syllables()
    n = len(letters)
    inf = 10**9
    best = [inf] * (n + 1)
    back = [0] * (n + 1)
    best[0] = 0
    for i in range(1, n + 1):
        for j in range(max(0, i - 6), i):
            if best[j] == inf:
                continue
            piece = letters[j:i]
            cost = 1 if piece in known else (3 if i - j == 1 else inf)
            if best[j] + cost < best[i]:
                best[i] = best[j] + cost
                back[i] = j
    out: list[str] = []
    i = n
    while i > 0:
        out.append(letters[back[i] : i])
        i = back[i]
    return tuple(reversed(out))


_CODES: dict[str, str] = {}


def unit_code(unit: str) -> str:
    """One private-use character per syllable, so that syllable sequences are strings and
    rapidfuzz aligns them unit by unit."""
    code = _CODES.get(unit)
    if code is None:
        code = _CODES[unit] = chr(0xF0000 + len(_CODES))
    return code


# A code that no unit has: stands where part of a query was already explained.
BLANK = "\U000ffffe"


@dataclass(frozen=True, slots=True)
class Spelled:
    """A name in the three spellings that are compared (see the module docstring)."""

    chars: str  # the characters ('' for pinyin input)
    codes: str  # one code per unit (syllable, digit run or stray letter)
    letters: str  # the pinyin letters, no separators
    units: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.units)

    def blank(self, start: int, stop: int) -> Spelled:
        """The same text with units ``start:stop`` blanked out (already explained)."""
        units = self.units[:start] + ("",) * (stop - start) + self.units[stop:]
        chars = self.chars
        if chars:
            chars = chars[:start] + "\u3000" * (stop - start) + chars[stop:]
        codes = self.codes[:start] + BLANK * (stop - start) + self.codes[stop:]
        return Spelled(chars, codes, "".join(units), units)


_TOKEN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff〇]+|[a-z]+|\d+")


@lru_cache(maxsize=100_000)
def spell(text: str, context: bool = False) -> Spelled:
    """Spells a name or the name part of an address: Chinese characters give one unit each
    (read alone, or in ``context``); a run of Latin letters is taken as typed pinyin and split
    into syllables; digits are one unit a run."""
    t = nfkc(text).lower()
    units: list[str] = []
    chars: list[str] = []
    cjk = False
    for m in _TOKEN.finditer(t):
        tok = m.group(0)
        if is_cjk(tok[0]):
            cjk = True
            units.extend(context_units(tok) if context else pinyin_units(tok))
            chars.append(tok)
        elif tok.isdigit():
            units.append(tok)
            chars.append("#")
        else:
            parts = split_pinyin(tok)
            units.extend(parts)
            chars.append("?" * len(parts))
    return Spelled(
        "".join(chars) if cjk else "",
        "".join(unit_code(u) for u in units),
        "".join(units),
        tuple(units),
    )
