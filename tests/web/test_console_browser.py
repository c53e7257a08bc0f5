"""The console in Debian's Chromium against a real Guetteur playing the demo: each role logs
in through the login page, searches, and sees only what it may use. Screenshots of every page
go to tests/web/artifacts/."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import pytest

from .conftest import ARTIFACTS
from .console_browser import Console
from .console_server import ConsoleServer, wait_for

FRENCH_NAV = ["Tableau de bord", "Explorateur de journaux", "Alertes", "Règles", "Utilisateurs et clés", "Sources",
              "Paramètres"]
ADMIN_ONLY = {"/users": "Utilisateurs et clés", "/sources": "Sources", "/settings": "Paramètres"}


def _person(admin: Console, role: str) -> tuple[str, str]:
    name = f"{role}-{secrets.token_hex(3)}"
    password = secrets.token_urlsafe(18)
    answer = admin.api("POST", "/api/v1/users", json={"name": name, "role": role, "password": password})
    assert answer.status_code == 201, answer.text
    return name, password


@pytest.fixture(scope="module")
def viewer(server: ConsoleServer, browser: object, admin: Console) -> Iterator[Console]:
    name, password = _person(admin, "viewer")
    console = Console.open(browser, server.base_url, ARTIFACTS)
    console.login(name, password)
    yield console
    console.close()


def _query(console: Console) -> dict[str, list[str]]:
    return parse_qs(urlparse(console.page.url).query)


def _wait_events(admin: Console, query: str) -> None:
    def found() -> bool:
        answer = admin.api("GET", "/api/v1/search/count", params={"q": query, "start": "now-1h"})
        return answer.status_code == 200 and answer.json()["count"] > 0
    wait_for(found, f"demo events matching {query!r}")


def _search(console: Console, query: str) -> None:
    box = console.page.get_by_test_id("kql")
    box.fill(query)
    box.press("Enter")


def test_admin_logs_in_with_a_second_factor_and_sees_every_page(admin: Console) -> None:
    """The first admin enrolled TOTP on the way in (fixture); the navigation lists every page."""
    admin.goto("/dashboard")
    admin.page.get_by_test_id("whoami").wait_for()
    nav = admin.page.get_by_role("navigation")
    for label in FRENCH_NAV:
        nav.get_by_role("link", name=label, exact=True).wait_for()
    assert "admin · administrateur" in admin.page.get_by_test_id("whoami").inner_text()
    me = admin.api("GET", "/api/v1/auth/me")
    assert me.status_code == 200, me.text
    assert me.json()["totp_enabled"] is True


def test_wrong_password_is_refused_in_place(server: ConsoleServer, browser: object) -> None:
    console = Console.open(browser, server.base_url, ARTIFACTS)
    try:
        console.login("admin", "not-the-password", succeeds=False)
        alert = console.page.get_by_role("alert")
        alert.wait_for()
        assert "incorrect" in alert.inner_text()
        console.shot("01b-login-refused")
        assert console.page.evaluate("sessionStorage.getItem('guetteur.session')") is None
    finally:
        console.close()


def test_explorer_query_filters_and_event_view(admin: Console) -> None:
    """A KQL query from the bar, a filter in and one out from the field sidebar, then an event."""
    _wait_events(admin, "event.outcome:failure and host.name:*")
    admin.goto("/explorer?start=now-1h&end=now")
    _search(admin, "event.outcome:failure")
    admin.page.wait_for_url(re.compile(r"q=event\.outcome%3Afailure"))
    admin.page.get_by_test_id("hit-count").filter(has_text=re.compile(r"\d")).wait_for()
    rows = admin.page.get_by_test_id("results").get_by_role("row")
    rows.first.wait_for()
    admin.shot("04-explorer")

    sidebar = admin.page.get_by_role("complementary", name="Champs")
    sidebar.get_by_role("button", name="host.name", exact=True).click()
    plus = admin.page.get_by_test_id("top-host.name").get_by_role("button", name=re.compile("^Seulement host.name = "))
    label = plus.first.get_attribute("aria-label")
    assert label
    host = label.split(" = ", 1)[1]
    plus.first.click()
    admin.page.wait_for_url(re.compile("host.name"))
    assert _query(admin)["q"] == [f"event.outcome:failure and host.name:{host}"]
    admin.page.wait_for_function(
        "host => { const r = document.querySelectorAll('[data-testid=results] [role=row]');"
        " return r.length > 0 && [...r].every(x => x.children[1].textContent === host); }", arg=host)

    minus = admin.page.get_by_test_id("top-host.name").get_by_role("button", name=f"Exclure host.name = {host}")
    minus.click()
    admin.page.wait_for_url(re.compile("not\\+host.name|not%20host.name|not\\+host\\.name"))
    assert _query(admin)["q"] == [f"event.outcome:failure and host.name:{host} and not host.name:{host}"]
    admin.page.get_by_text("Aucun événement de cette période ne correspond à la requête.").wait_for()

    _search(admin, "event.outcome:failure")
    admin.page.wait_for_url(re.compile(r"q=event\.outcome%3Afailure$|q=event\.outcome%3Afailure&"))
    rows.first.wait_for()
    rows.first.click()
    view = admin.page.get_by_test_id("event-view")
    view.wait_for()
    assert "Ligne d'origine" in view.inner_text() and "Champs ECS" in view.inner_text()
    assert "outcome: failure" in view.inner_text()
    view.get_by_text(re.compile("^Autour, sur ")).wait_for()
    admin.shot("05-explorer-event")
    admin.page.keyboard.press("Escape")


def test_query_errors_show_their_position_and_fields_complete(admin: Console) -> None:
    admin.goto("/explorer?start=now-1h&end=now")
    _search(admin, "host.name:(web")
    error = admin.page.get_by_test_id("kql-error")
    error.wait_for()
    assert re.search(r"Caractère \d+ :", error.inner_text()), error.inner_text()
    assert "^" in error.inner_text()
    admin.shot("06-explorer-syntax-error")

    box = admin.page.get_by_test_id("kql")
    box.fill("")
    box.press_sequentially("host.na")
    admin.page.get_by_role("option", name="host.name", exact=True).wait_for()
    box.press("Tab")
    assert box.input_value() == "host.name:"
    box.press_sequentially("web")
    admin.page.get_by_role("option", name=re.compile("^web-")).first.wait_for()


def test_time_picker_and_histogram_zoom_write_the_address(admin: Console) -> None:
    """A preset keeps the range relative; a drag on the histogram makes it absolute; the
    address opened elsewhere gives the same query and range."""
    admin.goto("/explorer?q=event.outcome:failure&start=now-15m&end=now")
    admin.page.get_by_test_id("time-picker").click()
    admin.page.get_by_role("button", name="24 dernières heures", exact=True).click()
    admin.page.wait_for_url(re.compile("start=now-24h"))
    chart = admin.page.get_by_role("img", name="Événements dans le temps (glisser pour zoomer)")
    chart.wait_for()
    admin.page.wait_for_timeout(800)
    box = chart.bounding_box()
    assert box
    y = box["y"] + box["height"] / 2
    admin.page.mouse.move(box["x"] + box["width"] * 0.6, y)
    admin.page.mouse.down()
    admin.page.mouse.move(box["x"] + box["width"] * 0.8, y, steps=8)
    admin.page.mouse.up()
    admin.page.wait_for_url(re.compile(r"start=\d{4}-"))
    start, end = _query(admin)["start"][0], _query(admin)["end"][0]
    assert start < end
    assert _query(admin)["q"] == ["event.outcome:failure"]


def test_viewer_sees_no_admin_page(viewer: Console) -> None:
    """No admin link in the navigation; the admin addresses say no; the API refuses too."""
    viewer.goto("/dashboard")
    nav = viewer.page.get_by_role("navigation")
    nav.get_by_role("link", name="Tableau de bord").wait_for()
    for label in ADMIN_ONLY.values():
        assert nav.get_by_role("link", name=label).count() == 0, label
    for path in ADMIN_ONLY:
        viewer.goto(path)
        viewer.page.get_by_test_id("forbidden").wait_for()
    viewer.shot("12-viewer-forbidden")
    assert viewer.api("GET", "/api/v1/users").status_code == 403
    viewer.goto("/explorer")
    viewer.page.get_by_test_id("kql").wait_for()
    assert viewer.page.get_by_role("button", name="Exporter").count() == 0


def test_shared_address_opens_the_same_search(viewer: Console) -> None:
    viewer.goto("/explorer?q=event.outcome%3Afailure&start=now-24h&end=now")
    assert viewer.page.get_by_test_id("kql").input_value() == "event.outcome:failure"
    assert viewer.page.get_by_test_id("time-picker").inner_text() == "24 dernières heures"


def test_admin_creates_a_user_who_logs_in(admin: Console, server: ConsoleServer, browser: object) -> None:
    name = f"claire-{secrets.token_hex(2)}"
    password = secrets.token_urlsafe(18)
    admin.goto("/users")
    form = admin.page.locator("form").first
    form.get_by_label("Nom").fill(name)
    form.get_by_label("Mot de passe").fill(password)
    form.get_by_role("button", name="Créer").click()
    admin.page.get_by_test_id(f"user-{name}").wait_for()
    admin.shot("07-users")
    claire = Console.open(browser, server.base_url, ARTIFACTS)
    try:
        claire.login(name, password)
        assert claire.page.get_by_test_id("whoami").inner_text() == f"{name} · analyste"
        claire.goto("/explorer")
        claire.page.get_by_role("button", name="Exporter").wait_for()
        assert claire.page.get_by_role("navigation").get_by_role("link", name="Utilisateurs et clés").count() == 0
    finally:
        claire.close()


def test_expired_session_is_refreshed_then_asked_again_without_losing_the_page(
        admin: Console, server: ConsoleServer, browser: object) -> None:
    name, password = _person(admin, "analyst")
    console = Console.open(browser, server.base_url, ARTIFACTS)
    try:
        console.login(name, password)
        console.goto("/explorer?start=now-1h&end=now")
        box = console.page.get_by_test_id("kql")
        box.fill("host.name:web-01 and not typed-yet")
        # an access token the server refuses: the next call is refreshed and retried
        console.page.evaluate("""() => { const s = JSON.parse(sessionStorage.getItem('guetteur.session'));
            s.access_token = 'expired'; sessionStorage.setItem('guetteur.session', JSON.stringify(s)); }""")
        console.page.get_by_test_id("time-picker").click()
        console.page.get_by_role("button", name="4 dernières heures", exact=True).click()
        console.page.wait_for_url(re.compile("start=now-4h"))
        wait_for(lambda: console.tokens()["access_token"] != "expired", "a token refresh")
        assert box.input_value() == "host.name:web-01 and not typed-yet"
        # now the refresh token is refused too: the login comes over the page, which stays
        console.page.evaluate("""() => sessionStorage.setItem('guetteur.session',
            JSON.stringify({access_token: 'x', refresh_token: 'y', expires_in: 1}))""")
        console.page.get_by_test_id("time-picker").click()
        console.page.get_by_role("button", name="24 dernières heures", exact=True).click()
        dialog = console.page.get_by_role("dialog")
        dialog.get_by_text("Votre session a pris fin").wait_for()
        console.shot("13-session-expired")
        dialog.get_by_label("Nom d'utilisateur").fill(name)
        dialog.get_by_label(re.compile("^Mot de passe")).fill(password)
        dialog.get_by_role("button", name="Se connecter").click()
        dialog.wait_for(state="detached")
        assert box.input_value() == "host.name:web-01 and not typed-yet"
        assert "start=now-24h" in console.page.url
    finally:
        console.close()


def test_dashboard_is_live(admin: Console) -> None:
    """Counters and demo detections arrive over the stream without a reload."""
    admin.goto("/dashboard")
    admin.page.get_by_test_id("stream-state").filter(has_text="en direct").wait_for(timeout=30_000)
    detections = admin.page.get_by_test_id("tile-detections").get_by_role("row")
    detections.first.wait_for(timeout=120_000)
    admin.page.get_by_test_id("tile-host.name").get_by_role("link").first.wait_for()
    admin.shot("03-dashboard")
    link = admin.page.get_by_test_id("tile-host.name").get_by_role("link").first
    host = link.inner_text()
    link.click()
    admin.page.wait_for_url(re.compile("/explorer"))
    assert admin.page.get_by_test_id("kql").input_value() == f"host.name:{host}"


def test_every_page_has_a_screenshot_and_no_raw_key(admin: Console) -> None:
    for number, path, name in ((8, "/rules", "rules"), (9, "/sources", "sources"), (10, "/settings", "settings"),
                               (11, "/alerts", "alerts")):
        admin.goto(path)
        admin.page.get_by_role("heading", level=2).first.wait_for()
        admin.page.wait_for_load_state("networkidle")
        assert admin.raw_keys() == [], path
        admin.shot(f"{number:02d}-{name}")
    admin.goto("/rules")
    admin.page.get_by_test_id("rules-table").get_by_role("row").nth(1).wait_for()
    admin.goto("/sources")
    admin.page.get_by_test_id("new-ingest-key").click()
    admin.page.get_by_test_id("key-ready").wait_for()
    admin.page.get_by_role("tab", name="curl").click()
    config = admin.page.get_by_test_id("config-curl").inner_text()
    assert "<CLÉ-D-INGESTION>" not in config and "/api/v1/ingest" in config
    admin.shot("09b-sources-key")


def test_english_then_french_everywhere(server: ConsoleServer, browser: object, admin: Console) -> None:
    """An English browser gets English; switching to French translates every page (no raw key)."""
    name, password = _person(admin, "analyst")
    console = Console.open(browser, server.base_url, ARTIFACTS, locale="en-US")
    try:
        console.login(name, password, french=False)
        console.page.get_by_role("navigation").get_by_role("link", name="Log explorer").wait_for()
        pages = ["/dashboard", "/explorer", "/alerts", "/rules"]
        for path in pages:
            console.goto(path)
            console.page.wait_for_load_state("networkidle")
            assert console.raw_keys() == [], path
        console.page.get_by_test_id("language").click()
        console.page.get_by_role("option", name="Français").click()
        for path in pages:
            console.goto(path)
            console.page.wait_for_load_state("networkidle")
            nav = console.page.get_by_role("navigation")
            nav.get_by_role("link", name="Explorateur de journaux").wait_for()
            chrome = nav.inner_text() + console.page.locator("header").inner_text() + \
                console.page.get_by_role("heading", level=2).first.inner_text()
            assert console.raw_keys() == [], path
            for english in ("Log explorer", "Dashboard", "Log out", "Rules", "Alerts", "Users"):
                assert english not in chrome, (path, english)
        assert console.page.evaluate("document.documentElement.lang") == "fr"
        console.page.evaluate("document.body.append(' nav.alerts ')")  # the check sees a raw key
        assert console.raw_keys() == ["nav.alerts"]
    finally:
        console.close()


def test_dark_theme_and_tablet_width(server: ConsoleServer, browser: object, admin: Console) -> None:
    name, password = _person(admin, "viewer")
    console = Console.open(browser, server.base_url, ARTIFACTS, width=820, height=1180)
    try:
        console.login(name, password)
        console.page.get_by_role("button", name="Thème sombre").click()
        console.goto("/explorer?start=now-1h&end=now")
        console.page.get_by_test_id("results").wait_for()
        assert console.page.evaluate("document.documentElement.getAttribute('data-mantine-color-scheme')") == "dark"
        console.shot("14-tablet-dark-explorer")
        console.page.get_by_role("navigation").get_by_role("link", name="Règles").click()
        console.page.wait_for_url(re.compile("/rules"))
    finally:
        console.close()


def test_demo_attack_becomes_an_alert_on_the_dashboard_then_is_triaged(admin: Console, viewer: Console) -> None:
    """Without a reload, a demo attack shows as an open alert on the dashboard; from its page the
    admin acknowledges, assigns, comments and closes it with a reason; a viewer sees it read-only."""
    admin.goto("/dashboard")
    latest = admin.page.get_by_test_id("tile-latest-alerts").get_by_role("link").filter(has_not_text="Toutes les alertes")
    latest.first.wait_for(timeout=120_000)
    admin.shot("03b-dashboard-alerts")
    latest.first.click()
    admin.page.wait_for_url(re.compile(r"/alerts/\d+$"))
    alert_path = urlparse(admin.page.url).path
    status = admin.page.get_by_test_id("alert-status")
    assert status.text_content() == "ouverte"
    admin.page.get_by_role("button", name="Prendre en compte").click()
    status.filter(has_text="prise en compte").wait_for()
    admin.page.get_by_role("button", name="Me l'attribuer").click()
    admin.page.get_by_test_id("alert-assignee").filter(has_text="admin").wait_for()
    admin.page.get_by_label("Commentaire").fill("Adresse bloquée au pare-feu")
    admin.page.get_by_role("button", name="Ajouter").click()
    history = admin.page.get_by_test_id("alert-history")
    history.get_by_text("commentée: Adresse bloquée au pare-feu").wait_for()
    admin.shot("11b-alert")
    admin.page.get_by_role("button", name="Clore", exact=True).first.click()
    dialog = admin.page.get_by_role("dialog")
    dialog.get_by_role("button", name="Clore").click()
    status.filter(has_text="close").wait_for()
    history.get_by_text("close (vrai positif)").wait_for()
    detail = admin.api("GET", f"/api/v1{alert_path}").json()
    assert (detail["status"], detail["close_reason"], detail["assignee"]) == ("closed", "true_positive", "admin")

    viewer.goto(alert_path)
    viewer.page.get_by_test_id("alert-status").filter(has_text="close").wait_for()
    assert viewer.page.get_by_role("button", name="Rouvrir").count() == 0
    assert viewer.page.get_by_label("Commentaire").count() == 0


def test_alert_list_bulk_acknowledge_and_silence_in_two_clicks(admin: Console) -> None:
    def two_open() -> bool:
        answer = admin.api("GET", "/api/v1/alerts", params={"status": "open", "limit": 10})
        return answer.status_code == 200 and len(answer.json()["data"]) >= 2
    wait_for(two_open, "two open demo alerts", timeout=180)
    admin.goto("/alerts?status=open")
    table = admin.page.get_by_test_id("alerts-table")
    boxes = table.get_by_role("checkbox", name=re.compile("^Sélectionner l'alerte "))
    boxes.nth(1).wait_for(timeout=90_000)  # the list refreshes every 5 s
    ids = [int(str(boxes.nth(i).get_attribute("aria-label")).rsplit(" ", 1)[1]) for i in range(2)]
    boxes.nth(0).check()
    boxes.nth(1).check()
    admin.page.get_by_text("2 sélectionnées").wait_for()
    admin.shot("11-alerts")
    admin.page.get_by_test_id("bulk-actions").get_by_role("button", name="Prendre en compte").click()
    wait_for(lambda: all(admin.api("GET", f"/api/v1/alerts/{i}").json()["status"] == "acknowledged" for i in ids),
             "the bulk acknowledgement")

    admin.goto(f"/alerts/{ids[0]}")
    admin.page.get_by_role("button", name="Mettre en silence").click()  # 1
    admin.page.get_by_role("dialog").get_by_role("button", name="Mettre en silence").click()  # 2
    admin.page.get_by_text(re.compile("^En silence jusqu'au ")).wait_for()
    admin.goto("/settings?tab=silences")  # Settings has one tab per subject
    admin.page.get_by_test_id("silences-table").get_by_text(f"mise en silence depuis l'alerte n° {ids[0]} dans la console").wait_for()
    admin.shot("10-settings")
