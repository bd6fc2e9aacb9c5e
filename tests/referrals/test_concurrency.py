"""No double booking under concurrency (issue 6, "Done means"; REF-04).

Sixteen bookers race for the last free slot from their own threads and database
connections: exactly one wins, the others get "slot taken" (409), and the database holds one
live appointment. Then they race over a whole session: never two live appointments on a slot.
The proof runs on PostgreSQL (``make test-postgres``), where the slot row lock and the partial
unique index ``appointment_one_per_slot`` are what keep it; the SQLite test database is in
memory with a shared cache where a concurrent writer fails instead of waiting (the
constraint itself is tested on both in test_appointments.py)."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection, connections
from django.db.models import Count

from countycare.core.errors import Conflict
from countycare.referrals import appointments
from countycare.referrals.models import Appointment
from tests.factories import ResidentFactory, StaffFactory, with_role

CLIENTS = 16

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor == "sqlite",
        reason="the in-memory SQLite test database cannot hold concurrent writers",
    ),
]


def _bookers(tree, n):
    users, people = [], []
    for i in range(n):
        user = StaffFactory(username=f"race_doctor{i}", employer=tree.village_a1)
        with_role(user, "village_doctor", tree.village_a1)
        users.append(user)
        people.append(ResidentFactory(home_village=tree.village_a1))
    return users, people


def _race(users, people, slot_ids_for):
    barrier = threading.Barrier(len(users))
    won: list[tuple[int, int]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(i):
        try:
            barrier.wait()
            for slot_id in slot_ids_for(i):
                try:
                    appointments.book(users[i], slot=slot_id, resident=people[i].pk)
                except Conflict as exc:
                    assert exc.code in ("slot_taken", "already_booked"), exc.code
                else:
                    with lock:
                        won.append((i, slot_id))
                    break
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(users))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return won, errors


def test_exactly_one_wins_the_last_slot(tree, session):
    users, people = _bookers(tree, CLIENTS)
    slots = list(session.slots.filter(reserved=False).order_by("starts_at"))
    last = slots[-1]
    won, errors = _race(users, people, lambda i: [last.pk])
    assert errors == []
    assert len(won) == 1
    assert Appointment.objects.filter(slot=last).count() == 1


def test_a_whole_session_is_never_double_booked(tree, session):
    users, people = _bookers(tree, CLIENTS)
    slot_ids = list(session.slots.order_by("starts_at").values_list("pk", flat=True))
    # Everyone tries the slots in the same order, so they collide on each one.
    won, errors = _race(users, people, lambda i: slot_ids)
    assert errors == []
    assert len(won) == len(slot_ids)  # 16 bookers, 10 slots: every slot taken once
    per_slot = Counter(slot for _i, slot in won)
    assert set(per_slot.values()) == {1}
    doubled = (
        Appointment.objects.filter(status="booked")
        .values("slot")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
    )
    assert not doubled.exists()
