"""Order panels: a device app's view of an order appears on the reading page, the order page
and the signed report's PDF without telemed importing the app (architecture: telemed is the hub)."""

import pytest

from countycare.telemed import panels


@pytest.fixture
def probe_panel(tmp_path, settings):
    (tmp_path / "probe.html").write_text(
        "<p>probe {{ place }} {{ order.accession_number }} {{ extra }}</p>"
    )
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [*settings.TEMPLATES[0]["DIRS"], tmp_path]}
    ]
    seen = []

    def context(request, order, place):
        seen.append(place)
        return None if place == "order" else {"extra": "x1"}

    panels.register(
        panels.Panel("test.probe", "probe.html", context, places=("read", "order", "pdf"))
    )
    yield seen
    panels.unregister("test.probe")


@pytest.mark.django_db
def test_panel_renders_where_it_has_something(probe_panel, make_order, client, village_doctor):
    order = make_order()
    html = panels.render(order, "read")
    assert len(html) == 1 and f"probe read {order.accession_number} x1" in html[0]
    assert panels.render(order, "order") == []  # the context said: nothing here
    assert probe_panel == ["read", "order"]
    # and on the order page the requesting doctor sees, through the view
    client.force_login(village_doctor)
    page = client.get(f"/telemed/orders/{order.pk}/")
    assert page.status_code == 200
    assert probe_panel[-1] == "order"


def test_unknown_place_is_refused():
    with pytest.raises(ValueError):
        panels.register(panels.Panel("bad", "x.html", lambda r, o, p: {}, places=("sidebar",)))
