"""Property tests of conferencing resolution (Hypothesis).

Whatever the connections look like, a resolved connection belongs to a candidate host or to the
organisation, is active with tokens, is of an installed provider, was not excluded, and is the
first acceptable one in preferred -> fallback order (hosts before the organisation within a
provider). The order is checked against a brute-force oracle written separately from
:func:`meetbridge.conferencing.resolution.resolve`.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from meetbridge.conferencing.resolution import (
    ConnectionView,
    HostView,
    Resolution,
    provider_order,
    resolve,
)

PROVIDERS = ["zoom", "google_meet", "teams", "webex", "jitsi"]
STATUSES = ["active", "needs_reconnect", "revoked"]
OUTSIDER = 99  # a member of the organisation who is not a candidate host of this booking
PROFILE = settings(max_examples=300, deadline=None, derandomize=True)


@st.composite
def worlds(draw: st.DrawFn) -> dict:
    # Installed providers; "jitsi", when installed, needs no connection.
    installed_names = draw(st.sets(st.sampled_from(PROVIDERS)))
    installed = {name: name != "jitsi" for name in installed_names}
    preferred = draw(st.lists(st.sampled_from(PROVIDERS), max_size=3, unique=True))
    fallback = draw(st.permutations(PROVIDERS))[: draw(st.integers(0, len(PROVIDERS)))]
    host_ids = draw(st.lists(st.integers(1, 6), min_size=0, max_size=4, unique=True))
    hosts = [HostView(uid, f"user{uid}@acme.test") for uid in host_ids]
    owners = [*host_ids, None, OUTSIDER]
    keys = draw(
        st.lists(
            st.tuples(st.sampled_from(PROVIDERS), st.sampled_from(owners)),
            unique=True,  # one connection per person and provider, as ConnectionService keeps
            max_size=12,
        )
    )
    connections = [
        ConnectionView(
            id=i + 100,
            provider=provider,
            owner_user_id=owner,
            status=draw(st.sampled_from(STATUSES)),
            has_tokens=draw(st.booleans()),
            email=f"conn{i}@provider.test",
        )
        for i, (provider, owner) in enumerate(keys)
    ]
    excluded = draw(st.sets(st.sampled_from([c.id for c in connections]))) if connections else set()
    return {
        "preferred": preferred,
        "fallback": fallback,
        "installed": installed,
        "hosts": hosts,
        "connections": connections,
        "exclude_connections": excluded,
    }


def _acceptable(world: dict, conn: ConnectionView) -> bool:
    return (
        conn.status == "active" and conn.has_tokens and conn.id not in world["exclude_connections"]
    )


def oracle(world: dict) -> tuple[str | None, int | None, int | None]:
    """(provider, connection id, host id) by brute force, straight from the documented rule."""
    conns = {(c.provider, c.owner_user_id): c for c in world["connections"]}
    seen: list[str] = []
    for provider in [*world["preferred"], *world["fallback"]]:
        if provider in seen:
            continue
        seen.append(provider)
        if provider not in world["installed"]:
            continue
        if not world["installed"][provider]:
            first = world["hosts"][0].user_id if world["hosts"] else None
            return provider, None, first
        for host in world["hosts"]:
            conn = conns.get((provider, host.user_id))
            if conn is not None and _acceptable(world, conn):
                return provider, conn.id, host.user_id
        org = conns.get((provider, None))
        if world["hosts"] and org is not None and _acceptable(world, org):
            return provider, org.id, world["hosts"][0].user_id
    return None, None, None


@PROFILE
@given(worlds())
def test_a_resolved_connection_is_a_candidates_or_the_organisations_and_usable(
    world: dict,
) -> None:
    result: Resolution = resolve(**world)
    if result.connection_id is None:
        return
    conn = next(c for c in world["connections"] if c.id == result.connection_id)
    candidates = {h.user_id for h in world["hosts"]}
    assert conn.owner_user_id in candidates or conn.owner_user_id is None
    assert conn.owner_user_id != OUTSIDER
    assert conn.status == "active" and conn.has_tokens
    assert conn.id not in world["exclude_connections"]
    assert conn.provider == result.provider and result.provider in world["installed"]
    assert result.account_level == (conn.owner_user_id is None)
    assert result.host is not None and result.host in world["hosts"]
    if not result.account_level:
        assert result.host.user_id == conn.owner_user_id


@PROFILE
@given(worlds())
def test_resolution_follows_preferred_then_fallback_order(world: dict) -> None:
    result = resolve(**world)
    expected = oracle(world)
    got = (result.provider, result.connection_id, result.host.user_id if result.host else None)
    assert got == expected


@PROFILE
@given(worlds())
def test_the_trail_explains_every_provider_tried(world: dict) -> None:
    result = resolve(**world)
    order = provider_order(world["preferred"], world["fallback"])
    tried = list(dict.fromkeys(step["provider"] for step in result.trail))
    # Providers are tried in order, each one at most once as a block, and none is skipped.
    assert tried == order[: len(tried)]
    chosen = [step for step in result.trail if step["outcome"] == "chosen"]
    if result.found:
        assert len(chosen) == 1 and result.trail[-1] is chosen[0]
        assert tried[-1] == result.provider
    else:
        assert chosen == [] and tried == order
        assert result.reason.startswith(("No video", "No conferencing provider"))
    for step in result.trail:
        assert "token" not in step["detail"].lower()
