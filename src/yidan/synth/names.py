"""Chinese names drawn by weight, and their homophone variants (同音字).

Surnames follow roughly the national frequencies and include the heteronym ones (曾 单 解 仇 区 查
朴) whose common pinyin reading is wrong, because those break naive pinyin matching. Given names are
one or two characters from a list of common name characters; a small share of people get one of
the very common full names (王伟, 张伟, 李娜 …) that make name-only matching useless.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pypinyin import Style, pinyin

# (surname, weight per mille, roughly)
SURNAMES: tuple[tuple[str, float], ...] = (
    ("王", 72), ("李", 72), ("张", 68), ("刘", 54), ("陈", 46), ("杨", 32), ("黄", 25), ("赵", 22),
    ("吴", 21), ("周", 20), ("徐", 16), ("孙", 15), ("马", 14), ("朱", 13), ("胡", 13), ("郭", 12),
    ("何", 12), ("高", 11), ("林", 11), ("罗", 11), ("郑", 10), ("梁", 10), ("谢", 8), ("宋", 8),
    ("唐", 8), ("许", 7), ("韩", 7), ("冯", 7), ("邓", 7), ("曹", 7), ("彭", 7), ("曾", 6),
    ("肖", 6), ("田", 6), ("董", 5), ("袁", 5), ("潘", 5), ("于", 5), ("蒋", 5), ("蔡", 5),
    ("余", 5), ("杜", 4), ("叶", 4), ("程", 4), ("苏", 4), ("魏", 4), ("吕", 4), ("丁", 4),
    ("任", 4), ("沈", 4), ("姚", 4), ("卢", 4), ("姜", 4), ("崔", 3), ("钟", 3), ("谭", 3),
    ("陆", 3), ("汪", 3), ("范", 3), ("金", 3), ("石", 3), ("廖", 3), ("贾", 3), ("夏", 3),
    ("韦", 3), ("付", 3), ("方", 3), ("白", 3), ("邹", 3), ("孟", 3), ("熊", 3), ("秦", 3),
    ("邱", 3), ("江", 3), ("尹", 3), ("薛", 2), ("闫", 2), ("段", 2), ("雷", 2), ("侯", 2),
    ("龙", 2), ("史", 2), ("陶", 2), ("黎", 2), ("贺", 2), ("顾", 2), ("毛", 2), ("郝", 2),
    ("龚", 2), ("邵", 2), ("万", 2), ("钱", 2), ("严", 2), ("覃", 2), ("武", 2), ("戴", 2),
    ("向", 2), ("单", 1.5), ("解", 1.0), ("仇", 0.8), ("区", 0.6), ("查", 0.8), ("朴", 0.6),
    ("欧阳", 0.8), ("尉迟", 0.1),
)

MALE_CHARS = (
    "伟强军杰勇涛明超磊刚平辉鹏华飞斌波宇浩俊帅峰建国志文龙林坤晨博轩睿泽昊皓宸子涵梓航凯宏"
    "鑫毅逸家嘉天佳成豪思锐然铭鸣瑞阳亮新一永泳斯禹煜钰威维玮"
)
FEMALE_CHARS = (
    "芳娜敏静丽秀英华慧巧美娟燕艳玲琳霞婷雪洁颖莉萍红梅月梦欣馨怡仪涵晗萱诗雅琪悦晴蕾露璐"
    "彤桐雯瑶倩薇妍婧晶佳嘉思可心语雨宇紫梓一依艺苹莹盈蕙惠卉鹃"
)
COMMON_MALE = ("王伟", "张伟", "李伟", "刘伟", "王磊", "李强", "张勇", "王军", "李杰", "刘洋", "王勇", "张杰")
COMMON_FEMALE = ("王芳", "李娜", "张敏", "李静", "王静", "王秀英", "张丽", "李秀英", "王丽", "张静", "刘芳", "李丽")


@cache
def surname_table() -> tuple[pa.Array, np.ndarray]:
    names = pa.array([s for s, _ in SURNAMES], pa.string())
    w = np.asarray([w for _, w in SURNAMES], dtype=np.float64)
    return names, w / w.sum()


def draw_surnames(rng: np.random.Generator, n: int) -> np.ndarray:
    """Indices into the surname table, weighted by frequency."""
    _, p = surname_table()
    return rng.choice(len(p), size=n, p=p)


def surnames_of(idx: np.ndarray) -> pa.Array:
    return surname_table()[0].take(pa.array(idx))


def draw_given(rng: np.random.Generator, male: np.ndarray) -> pa.Array:
    """Given names of one (25 %) or two characters; a share of very common full names comes later."""
    n = len(male)
    m_chars = pa.array(list(MALE_CHARS))
    f_chars = pa.array(list(FEMALE_CHARS))
    a = np.where(male, rng.integers(0, len(MALE_CHARS), n), rng.integers(0, len(FEMALE_CHARS), n))
    b = np.where(male, rng.integers(0, len(MALE_CHARS), n), rng.integers(0, len(FEMALE_CHARS), n))
    first = pc.if_else(pa.array(male), m_chars.take(pa.array(a % len(MALE_CHARS))),
                       f_chars.take(pa.array(a % len(FEMALE_CHARS))))
    second = pc.if_else(pa.array(male), m_chars.take(pa.array(b % len(MALE_CHARS))),
                        f_chars.take(pa.array(b % len(FEMALE_CHARS))))
    two = pa.array(rng.random(n) >= 0.25)
    return pc.if_else(two, pc.binary_join_element_wise(first, second, ""), first)


def full_names(rng: np.random.Generator, surname_idx: np.ndarray, male: np.ndarray,
               common_share: float = 0.01) -> pa.Array:
    """Surname + given name; `common_share` of people get one of the very common full names."""
    names = pc.binary_join_element_wise(surnames_of(surname_idx), draw_given(rng, male), "")
    common = rng.random(len(male)) < common_share
    k = rng.integers(0, len(COMMON_MALE), len(male))
    pick = pc.if_else(pa.array(male), pa.array(COMMON_MALE).take(pa.array(k)),
                      pa.array(COMMON_FEMALE).take(pa.array(k % len(COMMON_FEMALE))))
    return pc.if_else(pa.array(common), pick, names)


def _reading(ch: str) -> str:
    return pinyin(ch, style=Style.NORMAL)[0][0]


@cache
def homophones() -> dict[str, tuple[str, ...]]:
    """Name characters that share a toneless reading (伟/威/维, 丽/莉), from pypinyin.

    Computed once over the few hundred name characters, never per person.
    """
    chars = sorted(set(MALE_CHARS) | set(FEMALE_CHARS))
    by_reading: dict[str, list[str]] = {}
    for ch in chars:
        by_reading.setdefault(_reading(ch), []).append(ch)
    return {ch: tuple(o for o in by_reading[_reading(ch)] if o != ch) for ch in chars
            if len(by_reading[_reading(ch)]) > 1}


def homophone_variant(name: str, surname_len: int, rng: np.random.Generator) -> str | None:
    """The name with one given-name character replaced by a homophone, or None when none exists."""
    table = homophones()
    spots = [i for i in range(surname_len, len(name)) if name[i] in table]
    if not spots:
        return None
    i = spots[int(rng.integers(0, len(spots)))]
    alts = table[name[i]]
    return name[:i] + alts[int(rng.integers(0, len(alts)))] + name[i + 1:]
