"""Sign-in throttling: repeated failures for an email or from an address are refused for a
while, before the password is checked; the right password does not get through meanwhile."""

from __future__ import annotations

from meetbridge.web.login_throttle import LoginThrottle
from meetbridge.web.security import SESSION_COOKIE
from tests.web_support import PASSWORD

pytest_plugins = ["tests.web_fixtures"]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def throttle(clock: Clock, *, per_email: int = 3, per_ip: int = 5) -> LoginThrottle:
    return LoginThrottle(
        max_failures=per_email, max_failures_per_ip=per_ip, window_seconds=600, clock=clock
    )


def test_an_email_over_its_limit_is_refused_until_the_oldest_failure_leaves_the_window() -> None:
    clock = Clock()
    gate = throttle(clock)
    for at in (1000.0, 1060.0, 1180.0):
        clock.now = at
        assert gate.check("Ann@acme.test", "10.0.0.1") is None
        gate.failed("ann@acme.test ", "10.0.0.1")  # case and spaces do not make a new key
    clock.now = 1200.0
    refused = gate.check("ann@acme.test", "10.0.0.2")  # another address: the email counts
    assert refused is not None and refused.retry_after == 400 and refused.minutes == 7
    clock.now = 1000.0 + 600  # the first failure leaves the window
    assert gate.check("ann@acme.test", "10.0.0.2") is None


def test_an_address_over_its_limit_is_refused_for_every_email() -> None:
    clock = Clock()
    gate = throttle(clock)
    for n in range(5):
        gate.failed(f"guess{n}@acme.test", "10.0.0.9")
    assert gate.check("ann@acme.test", "10.0.0.9") is not None
    assert gate.check("ann@acme.test", "10.0.0.1") is None


def test_success_clears_the_email_but_not_the_address() -> None:
    clock = Clock()
    gate = throttle(clock, per_email=2, per_ip=3)
    gate.failed("ann@acme.test", "10.0.0.1")
    gate.failed("bob@acme.test", "10.0.0.1")
    gate.succeeded("ann@acme.test")
    gate.failed("ann@acme.test", "10.0.0.1")
    assert gate.check("ann@acme.test", "10.0.0.2") is None  # one failure since the success
    assert gate.check("carol@acme.test", "10.0.0.1") is not None  # the address has three


def test_zero_switches_it_off_and_the_map_stays_bounded() -> None:
    clock = Clock()
    off = LoginThrottle(max_failures=0, max_failures_per_ip=1, window_seconds=60, clock=clock)
    for _ in range(5):
        off.failed("ann@acme.test", "10.0.0.1")
    assert off.check("ann@acme.test", "10.0.0.1") is None
    small = LoginThrottle(
        max_failures=1, max_failures_per_ip=1, window_seconds=60, max_keys=10, clock=clock
    )
    for n in range(100):
        small.failed(f"p{n}@acme.test", f"10.0.1.{n}")
    assert len(small._failures) <= 10


async def test_after_too_many_failures_even_the_right_password_is_refused(stack) -> None:
    stack.app.state.web.login_throttle = LoginThrottle(
        max_failures=3, max_failures_per_ip=50, window_seconds=600
    )
    browser = stack.browser()
    for _ in range(3):
        page = await browser.get("/login")
        wrong = await browser.submit(page, data={"email": "ann@acme.test", "password": "nope"})
        assert wrong.status_code == 400
    page = await browser.get("/login")
    refused = await browser.submit(page, data={"email": "ann@acme.test", "password": PASSWORD})
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert "Too many failed sign-ins. Try again in 10 minutes." in refused.text
    assert (await browser.get("/bookings", follow=False)).status_code == 303  # not signed in
    assert SESSION_COOKIE not in refused.headers.get("set-cookie", "")
    # Someone else, from the same address, is not locked out by Ann's guesser.
    other = stack.browser()
    landed = await other.sign_in("bob@acme.test", PASSWORD)
    assert str(landed.url).endswith("/bookings")
