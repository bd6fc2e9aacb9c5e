"""lab.parser.parse builds the tree python-hl7's own parse builds (issue 5, SHC-03): same
classes, nesting, strings, separators and escape character, on the corpus and on generated
messages; what the library refuses, it refuses too."""

from pathlib import Path

import hl7
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from countycare.lab import parser
from countycare.lab.ingest import decode

CORPUS = Path(__file__).resolve().parents[1] / "data" / "lab"


def same(ours, theirs) -> None:
    assert type(ours) is type(theirs)
    if isinstance(theirs, str):
        assert ours == theirs
        return
    assert vars(ours) == vars(theirs)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        same(a, b)


def agrees(text: str) -> None:
    try:
        theirs = hl7.parse(text)
    except Exception as exc:
        with pytest.raises(type(exc)):
            parser.parse(text)
        return
    same(parser.parse(text), theirs)


def test_the_corpus_parses_as_python_hl7_parses_it():
    paths = list(CORPUS.glob("*.hl7"))
    assert paths
    for path in paths:
        agrees(decode(path.read_bytes()).replace("\r\n", "\r").replace("\n", "\r"))


def test_a_second_header_and_other_encoding_characters():
    agrees("MSH|^~\\&|A|B\rPID|1||x^y~z&w\rMSH|^~\\&|C\r")
    agrees("MSH#$%@*#A#B#C$D%E*F@G\rOBX#1#NM#a$b%c*d@e##")
    agrees("MSH|^~\\&\rPID\rOBX|")
    agrees("MSH|")


PART = st.text(alphabet=list("ab1 ^~&\\|#$\rMSH"), max_size=40)


@settings(max_examples=300, deadline=None)
@given(head=st.sampled_from(["MSH|^~\\&|", "MSH|^~|", "MSH#$%@*#", "MSH|^", "BHS|^~\\&|"]),
       rest=PART)  # fmt: skip
def test_generated_messages_parse_as_python_hl7_parses_them(head, rest):
    agrees(head + rest)
