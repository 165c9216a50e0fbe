"""Provider resolution: preferred, fallback, hosts in order, account-level, nothing."""

from __future__ import annotations

from meetbridge.conferencing.resolution import ConnectionView, HostView, resolve

ANN, BOB = HostView(1, "ann@acme.test"), HostView(2, "bob@acme.test")
INSTALLED = {"zoom": True, "google_meet": True, "teams": True}
FALLBACK = ["zoom", "google_meet", "teams"]


def conn(
    cid: int, provider: str, owner: int | None, status: str = "active", tokens: bool = True
) -> ConnectionView:
    return ConnectionView(cid, provider, owner, status, tokens, f"c{cid}@x")


def test_preferred_provider_on_the_hosts_own_account() -> None:
    r = resolve(
        preferred=["teams"],
        fallback=FALLBACK,
        installed=INSTALLED,
        hosts=[ANN],
        connections=[conn(1, "zoom", 1), conn(2, "teams", 1)],
    )
    assert (r.provider, r.connection_id, r.host) == ("teams", 2, ANN)
    assert r.trail[-1]["outcome"] == "chosen"


def test_falls_back_in_the_organisations_order() -> None:
    r = resolve(
        preferred=["zoom"],
        fallback=FALLBACK,
        installed=INSTALLED,
        hosts=[ANN],
        connections=[conn(3, "teams", 1), conn(2, "google_meet", 1)],
    )
    assert (r.provider, r.connection_id) == ("google_meet", 2)
    assert [s["outcome"] for s in r.trail] == ["no_connection", "no_connection", "chosen"]
    assert r.trail[0]["detail"] == "ann@acme.test has not connected zoom"


def test_broken_connections_are_skipped_with_their_reason() -> None:
    r = resolve(
        preferred=[],
        fallback=FALLBACK,
        installed=INSTALLED,
        hosts=[ANN],
        connections=[
            conn(1, "zoom", 1, "needs_reconnect", tokens=False),
            conn(2, "google_meet", 1),
        ],
    )
    assert r.provider == "google_meet"
    assert r.trail[0]["detail"] == "zoom of ann@acme.test is needs reconnect"


def test_collective_uses_the_first_member_with_a_connection() -> None:
    r = resolve(
        preferred=["zoom"],
        fallback=FALLBACK,
        installed=INSTALLED,
        hosts=[ANN, BOB],
        connections=[conn(5, "zoom", 2)],
    )
    assert (r.provider, r.connection_id, r.host) == ("zoom", 5, BOB)


def test_hosts_own_accounts_come_before_the_account_level_connection() -> None:
    org_conn = conn(9, "zoom", None)
    r = resolve(
        preferred=["zoom"],
        fallback=FALLBACK,
        installed=INSTALLED,
        hosts=[ANN],
        connections=[org_conn, conn(1, "zoom", 1)],
    )
    assert r.connection_id == 1 and not r.account_level
    r = resolve(
        preferred=["zoom"],
        fallback=FALLBACK,
        installed=INSTALLED,
        hosts=[BOB],
        connections=[org_conn, conn(1, "zoom", 1)],
    )
    assert (r.connection_id, r.account_level, r.host) == (9, True, BOB)


def test_account_level_for_the_provider_comes_before_the_next_provider() -> None:
    r = resolve(
        preferred=[],
        fallback=FALLBACK,
        installed=INSTALLED,
        hosts=[ANN],
        connections=[conn(9, "zoom", None), conn(2, "google_meet", 1)],
    )
    assert (r.provider, r.connection_id, r.account_level) == ("zoom", 9, True)


def test_nothing_connected_gives_no_video_and_says_why() -> None:
    r = resolve(
        preferred=["zoom"], fallback=FALLBACK, installed=INSTALLED, hosts=[ANN], connections=[]
    )
    assert not r.found and r.provider is None and r.connection_id is None
    assert "ann@acme.test has not connected zoom" in r.reason
    assert "no organisation-wide teams account" in r.reason


def test_uninstalled_provider_is_skipped_and_recorded() -> None:
    r = resolve(
        preferred=["webex"],
        fallback=FALLBACK,
        installed=INSTALLED,
        hosts=[ANN],
        connections=[conn(1, "zoom", 1)],
    )
    assert r.provider == "zoom"
    assert r.trail[0] == {
        "provider": "webex",
        "outcome": "not_installed",
        "detail": "webex is not installed",
    }


def test_provider_without_connect_step_is_always_available() -> None:
    r = resolve(
        preferred=["jitsi"],
        fallback=FALLBACK,
        installed={**INSTALLED, "jitsi": False},
        hosts=[ANN],
        connections=[],
    )
    assert (r.provider, r.connection_id, r.host) == ("jitsi", None, ANN)


def test_excluded_connection_is_not_picked_again() -> None:
    r = resolve(
        preferred=["zoom"],
        fallback=FALLBACK,
        installed=INSTALLED,
        hosts=[ANN],
        connections=[conn(1, "zoom", 1), conn(2, "google_meet", 1)],
        exclude_connections=[1],
    )
    assert r.connection_id == 2
    assert r.trail[0]["outcome"] == "failed"


def test_fallback_order_without_duplicates() -> None:
    r = resolve(
        preferred=["teams", "zoom"],
        fallback=FALLBACK,
        installed=INSTALLED,
        hosts=[ANN],
        connections=[],
    )
    assert [
        s["provider"]
        for s in r.trail
        if s["outcome"] == "no_connection" and "organisation" in s["detail"]
    ] == ["teams", "zoom", "google_meet"]
