"""python-hl7's parse, without its per-part overhead (issue 5, SHC-03): :func:`parse` gives
the same tree as ``hl7.parse`` — the same classes (Message, Segment, Field, Repetition,
Component), the same nesting, separators and escape character — built directly. The
library's recursive split makes a parse plan object, a keyword-argument constructor call and
an assertion for each of the several hundred parts of an analyzer's CBC, which was a fifth of
what a listener spends per message. ``tests/lab/test_parser.py`` checks both trees agree on
the corpus and on generated messages.
"""

from __future__ import annotations

import re

import hl7
from hl7.containers import Component, Factory, Field, Message, Repetition, Segment
from hl7.parser import create_parse_plan

CLASSES = (Message, Segment, Field, Repetition, Component)
HEADERS = ("MSH", "BHS", "FHS")


def parse(text: str) -> hl7.Message:
    """The message ``text`` parsed as ``hl7.parse(text)`` parses it (same exceptions for a
    message that does not begin with MSH, or whose encoding characters repeat)."""
    strmsg = text.strip()
    plan = create_parse_plan(strmsg)
    seps, esc = plan.separators, plan.esc
    if len(set(seps)) != len(seps):
        # Encoding characters that repeat (or repeat a default): the library's plan finds
        # each level's separator by its first occurrence; its own parse, with its quirks.
        return hl7.parse(text)
    new = list.__new__
    init = list.__init__
    attrs = [
        {"separator": seps[level], "esc": esc, "separators": seps, "factory": Factory}
        for level in range(5)
    ]
    # A part is split when it holds its level's separator or a deeper one.
    splits = [re.compile("[" + re.escape(seps[level:]) + "]").search for level in range(5)]

    def make(level: int, data: list):
        obj = new(CLASSES[level])
        init(obj, data)
        obj.__dict__.update(attrs[level])
        return obj

    def split(part: str, level: int):
        # hl7.parser._split, level by level: message, segment, field, repetition, component.
        if level == 5:
            return part
        if splits[level](part) is None:
            return make(level, [part])
        data = []
        if level == 1 and part[:3] in HEADERS:
            seg, sep0 = part[:3], part[3]
            end = part.find(sep0, 4)
            data = [make(2, [seg]), make(2, [sep0]), make(2, [part[4:end]])]
            part = part[end + 1 :]
        if part:
            data += [split(x, level + 1) for x in part.split(seps[level])]
        return make(level, data)

    return split(strmsg, 0)
