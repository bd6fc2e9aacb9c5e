"""Fuzzing the HL7 ingest (issue 5): whatever arrives, an ACK comes back (AA, AE or AR), no
exception escapes, our own error path is never taken, and a message that is not accepted
leaves no observation behind."""

import hl7
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from countycare.lab.ingest import ingest
from countycare.telemed.models import Observation

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def check(result, before: int) -> None:
    ack = hl7.parse(result.ack)
    code = str(ack.segment("MSA")(1))
    assert code in {"AA", "AE", "AR"}
    assert result.message.status != "error", result.message.reason
    if code != "AA":
        assert Observation.objects.count() == before


@FUZZ
@given(data=st.binary(max_size=2000))
def test_any_bytes(db, data):
    check(ingest(data), Observation.objects.count())


# Edits to a valid CBC message: a character inserted, removed or replaced anywhere, with a
# bias to HL7's own delimiters and to line ends.
EDIT = st.tuples(
    st.sampled_from(["insert", "delete", "replace"]),
    st.integers(min_value=0),
    st.one_of(st.sampled_from(list("|^~\\&\r\n\x0b\x1c\x00")), st.text(min_size=1, max_size=8)),
)


@FUZZ
@given(edits=st.lists(EDIT, min_size=1, max_size=6), control=st.uuids())
def test_mutated_cbc(make_oru, edits, control):
    text = make_oru(control_id=control.hex[:20])
    for kind, at, piece in edits:
        at = at % (len(text) + 1)
        if kind == "insert":
            text = text[:at] + piece + text[at:]
        elif kind == "delete":
            text = text[:at] + text[at + len(piece) :]
        else:
            text = text[:at] + piece + text[at + len(piece) :]
    check(ingest(text.encode("utf-8", errors="surrogatepass")), Observation.objects.count())
