"""Pinyin of names for search: ``张三`` → ``zhangsan`` and initials ``zs``."""

from __future__ import annotations

from functools import lru_cache

from pypinyin import Style, lazy_pinyin


@lru_cache(maxsize=20000)
def _char(ch: str) -> str:
    result = lazy_pinyin(ch, style=Style.NORMAL, errors="ignore") if ch.strip() else []
    return result[0] if result else ""


def _syllables(name: str) -> list[str]:
    out = []
    for ch in name:
        if ch.isascii():
            if ch.isalnum():
                out.append(ch.lower())
            continue
        syllable = _char(ch)
        if syllable:
            out.append(syllable.lower())
    return out


def full(name: str) -> str:
    return "".join(_syllables(name))[:100]


def initials(name: str) -> str:
    return "".join(s[0] for s in _syllables(name) if s)[:20]
