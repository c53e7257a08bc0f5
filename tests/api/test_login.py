"""Logging in: brute-force backoff per account and per address, the same cost for unknown
users, the TOTP second factor and its enrolment, and per-user rate limits."""

from __future__ import annotations

import statistics
import time
from typing import Any

import psycopg
import pyotp
from tests.api.people import Person, add_user, bearer, login

from guetteur.config import AuthSettings, Settings
from guetteur.store import login_throttle
from guetteur.store.login_throttle import ThrottlePolicy
from guetteur.store.pool import open_pool

LOGIN = "/api/v1/auth/login"


async def test_repeated_failures_lock_the_account_then_429(settings: Settings, make_running: Any) -> None:
    """After `login_free_failures` wrong passwords the account answers 429 with Retry-After, even to
    the right password, without checking it; another account from the same address still logs in."""
    settings.auth = AuthSettings(login_free_failures=3, address_free_failures=50, login_backoff_seconds=60)
    async with make_running() as running:
        http = running.http
        victim = add_user(running.owner_dsn, "victim", "viewer")
        other = add_user(running.owner_dsn, "other", "viewer")
        codes = [(await http.post(LOGIN, json={"username": "victim", "password": f"guess {i}"})).status_code
                 for i in range(3)]
        assert codes == [401, 401, 401]
        locked = await login(http, victim)
        assert locked.status_code == 429
        assert 55 <= int(locked.headers["retry-after"]) <= 60
        assert (await login(http, other)).status_code == 200


async def test_failures_from_one_address_over_many_accounts_lock_the_address(settings: Settings,
                                                                             make_running: Any) -> None:
    """Password spraying: one wrong password per account, from one address, past
    `address_free_failures` gets 429 for every account from that address."""
    settings.auth = AuthSettings(login_free_failures=10, address_free_failures=4, login_backoff_seconds=60)
    async with make_running() as running:
        http = running.http
        real = add_user(running.owner_dsn, "real", "viewer")
        codes = [(await http.post(LOGIN, json={"username": f"user{i}", "password": "Winter2024!"})).status_code
                 for i in range(4)]
        assert codes == [401] * 4
        assert (await login(http, real)).status_code == 429


async def test_a_lockout_survives_a_restart_of_guetteur(settings: Settings, fresh_dsn: str,
                                                        make_running: Any) -> None:
    """The failure counts live in the database (migration 0770): after a stop and a new start on
    the same database, the locked account still gets 429 (right password included) and the
    count goes on from where it was (one more failure locks for twice as long)."""
    settings.auth = AuthSettings(login_free_failures=3, address_free_failures=50, login_backoff_seconds=60,
                                 login_backoff_max=900)
    async with make_running(database_url=fresh_dsn) as running:
        victim = add_user(running.owner_dsn, "victim", "viewer")
        codes = [(await running.http.post(LOGIN, json={"username": "victim", "password": f"guess {i}"})).status_code
                 for i in range(3)]
        assert codes == [401, 401, 401]
        assert (await login(running.http, victim)).status_code == 429
    with psycopg.connect(fresh_dsn, autocommit=True) as conn:  # the fixture creates its keys again
        conn.execute("UPDATE api_keys SET revoked_at = now()")
        assert conn.execute("SELECT failures FROM login_failures WHERE kind = 'account' AND key = 'victim'"
                            ).fetchone() == (3,)
        # The lockout ended while Guetteur was away; the count is what remains.
        conn.execute("UPDATE login_failures SET locked_until = now() - interval '1 second'")
    async with make_running(database_url=fresh_dsn) as running:
        assert (await running.http.post(LOGIN, json={"username": "Victim", "password": "guess 4"})).status_code == 401
        locked = await login(running.http, victim)
        assert locked.status_code == 429
        assert 110 <= int(locked.headers["retry-after"]) <= 120  # the 4th failure: 60 s * 2


async def test_forgiven_keys_are_deleted_so_the_table_stays_bounded(fresh_dsn: str) -> None:
    """Keys whose last failure is older than twice the longest lockout are deleted as new
    failures come, a bounded number per failure; recent and still locked keys stay."""
    policy = ThrottlePolicy(account_free=5, address_free=20, backoff=2, backoff_max=10)
    with psycopg.connect(fresh_dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO login_failures (kind, key, failures, last_at, locked_until)"
                     " SELECT 'address', '10.0.' || (i / 256) || '.' || (i % 256), 3, now() - interval '1 hour', NULL"
                     " FROM generate_series(1, 150) AS i")
        conn.execute("INSERT INTO login_failures VALUES ('account', 'locked', 9, now() - interval '1 hour',"
                     " now() + interval '1 hour'), ('account', 'recent', 2, now() - interval '5 seconds', NULL)")
    pool = await open_pool(fresh_dsn, max_size=2, application_name="test-throttle")
    try:
        assert await login_throttle.stored_keys(pool) == 152
        await login_throttle.record_failure(pool, policy, "eve", "192.0.2.1")
        assert await login_throttle.stored_keys(pool) == 152 + 2 - 100
        await login_throttle.record_failure(pool, policy, "eve", "192.0.2.1")
        assert await login_throttle.stored_keys(pool) == 4  # eve, 192.0.2.1, locked, recent
        assert await login_throttle.retry_after(pool, "LOCKED", "192.0.2.9") > 3500
        assert await login_throttle.retry_after(pool, "recent", "192.0.2.9") == 0
        for _ in range(3):  # the 5th failure of eve: locked for 2 s; the address (5 of 20) is not
            await login_throttle.record_failure(pool, policy, "eve", "192.0.2.1")
        assert 0 < await login_throttle.retry_after(pool, "eve", "192.0.2.2") <= 2
        assert await login_throttle.retry_after(pool, "someone", "192.0.2.1") == 0
        await login_throttle.record_success(pool, "EVE")
        assert await login_throttle.retry_after(pool, "eve", "192.0.2.2") == 0
    finally:
        await pool.close()


async def test_unknown_users_cost_an_argon2_verification_like_known_ones(make_running: Any) -> None:
    """An unknown user name is answered like a wrong password (same status and body) after an
    Argon2 verification of a dummy hash: its median time is of the same order as a known user's
    (a generous bound: without the dummy hash it is ~100x faster)."""
    async with make_running() as running:
        http = running.http
        add_user(running.owner_dsn, "known", "viewer")

        async def timed(name: str) -> tuple[float, Any]:
            start = time.perf_counter()
            response = await http.post(LOGIN, json={"username": name, "password": "wrong password here"})
            return time.perf_counter() - start, response

        known, unknown = [], []
        for i in range(4):  # under the default 5 free failures per account
            t_known, r_known = await timed("known")
            t_unknown, r_unknown = await timed(f"nobody{i}")
            assert r_known.status_code == r_unknown.status_code == 401
            assert r_known.json() == r_unknown.json()
            known.append(t_known)
            unknown.append(t_unknown)
        ratio = statistics.median(unknown) / statistics.median(known)
        print(f"login median known {statistics.median(known) * 1000:.1f} ms, "
              f"unknown {statistics.median(unknown) * 1000:.1f} ms, ratio {ratio:.2f}")
        assert ratio > 0.4


async def test_totp_enrolment_then_login_needs_a_fresh_code(settings: Settings, make_running: Any) -> None:
    """A user enrols (secret and otpauth URI), confirms with a code; from then login without a
    code, with a wrong code or with an already used code is 401, and a fresh code works."""
    settings.auth = AuthSettings(login_free_failures=20)
    async with make_running() as running:
        http = running.http
        user = add_user(running.owner_dsn, "tess", "analyst")
        headers = await bearer(http, user)
        enrolment = await http.post("/api/v1/auth/totp", headers=headers)
        assert enrolment.status_code == 200
        secret = enrolment.json()["secret"]
        assert enrolment.json()["provisioning_uri"].startswith("otpauth://totp/Guetteur:tess?secret=" + secret)
        assert (await http.post("/api/v1/auth/totp/confirm", headers=headers, json={"code": "000000"
                                if pyotp.TOTP(secret).now() != "000000" else "111111"})).status_code == 400
        person = Person(user.name, user.password, secret)
        confirm = await http.post("/api/v1/auth/totp/confirm", headers=headers, json={"code": person.code()})
        assert confirm.status_code == 204
        assert (await login(http, person, totp=None)).status_code == 401
        wrong = "123456" if pyotp.TOTP(secret).now() != "123456" else "654321"
        assert (await login(http, person, totp=wrong)).status_code == 401
        fresh = await login(http, person)  # waits for the next step: the confirmation used this one
        assert fresh.status_code == 200
        used = person._last_step * 30
        replay = await login(http, person, totp=pyotp.TOTP(secret).at(used))
        assert replay.status_code == 401
        me = await http.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {fresh.json()['access_token']}"})
        assert me.json()["totp_enabled"] is True


async def test_admin_without_totp_may_only_enrol_when_required(make_running: Any) -> None:
    """With `auth.require_totp_for_admins` (the default) an admin without a second factor logs in
    with `totp_enrolment_required`, gets 403 on admin and read routes, enrols, and then works."""
    async with make_running() as running:
        http = running.http
        admin = add_user(running.owner_dsn, "ada", "admin")
        first = await login(http, admin)
        assert first.status_code == 200 and first.json()["totp_enrolment_required"] is True
        headers = {"Authorization": f"Bearer {first.json()['access_token']}"}
        refused = await http.get("/api/v1/users", headers=headers)
        assert refused.status_code == 403 and "second factor" in refused.json()["detail"]
        assert (await http.get("/api/v1/events", headers=headers)).status_code == 403
        secret = (await http.post("/api/v1/auth/totp", headers=headers)).json()["secret"]
        person = Person(admin.name, admin.password, secret)
        assert (await http.post("/api/v1/auth/totp/confirm", headers=headers,
                                json={"code": person.code()})).status_code == 204
        assert (await http.get("/api/v1/users", headers=headers)).status_code == 200


async def test_a_user_past_the_rate_limit_gets_429(settings: Settings, make_running: Any) -> None:
    """`auth.rate_burst` requests pass at once, the next is 429 with Retry-After; another user is
    not affected; an ingest key is not rate-limited (bounded by the ingest limits instead)."""
    settings.auth = AuthSettings(rate_per_second=0.5, rate_burst=5)
    async with make_running() as running:
        http = running.http
        busy = await bearer(http, add_user(running.owner_dsn, "busy", "viewer"))
        calm = await bearer(http, add_user(running.owner_dsn, "calm", "viewer"))
        codes = [(await http.get("/api/v1/auth/me", headers=busy)).status_code for _ in range(6)]
        assert codes == [200] * 5 + [429]
        last = await http.get("/api/v1/auth/me", headers=busy)
        assert last.status_code == 429 and int(last.headers["retry-after"]) >= 1
        assert (await http.get("/api/v1/auth/me", headers=calm)).status_code == 200
        for _ in range(8):
            assert (await running.ingest(b"rate test line\n")).status_code == 202
