"""``/api/v1/`` routes of the Walking Hospital (being built, issue 3)."""


def register(router) -> None:
    pass
