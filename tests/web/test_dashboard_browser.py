"""The dashboard's alert tiles and the ATT&CK coverage page in Debian's Chromium, against the
real Guetteur playing the demo (the session's `server`): the open-by-severity counts and the
tactic heatmap show the demo's alerts and lead to the alert list filtered as counted; the
coverage page shows the techniques of the shipped rules. Screenshots go to tests/web/artifacts/."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

from .console_browser import Console
from .console_server import wait_for


def _query(console: Console) -> dict[str, list[str]]:
    return parse_qs(urlparse(console.page.url).query)


def _listed_ids(console: Console) -> set[int]:
    """The alert ids of the list on screen (each row links to /alerts/<id>)."""
    console.page.locator("[data-testid=alerts-table] a[href^='/alerts/']").first.wait_for()
    hrefs = console.page.eval_on_selector_all("[data-testid=alerts-table] a[href^='/alerts/']",
                                              "links => links.map(a => a.getAttribute('href'))")
    return {int(h.rsplit("/", 1)[1]) for h in hrefs}


def test_open_alerts_by_severity_count_on_the_server_and_open_the_filtered_list(admin: Console) -> None:
    def open_alerts() -> bool:
        answer = admin.api("GET", "/api/v1/dashboard/alert-counts")
        return answer.status_code == 200 and sum(answer.json()["open"].values()) > 0
    wait_for(open_alerts, "an open demo alert", timeout=180)
    admin.goto("/dashboard")
    counts = admin.api("GET", "/api/v1/dashboard/alert-counts").json()["open"]
    severity = max(counts, key=lambda s: counts[s])
    tile = admin.page.get_by_test_id(f"open-{severity}")
    admin.page.wait_for_function(  # the tile shows a count, not the placeholder, and not zero
        "id => { const t = document.querySelector(`[data-testid=${id}]`); return t && /^[1-9]/.test(t.innerText); }",
        arg=f"open-{severity}")
    shown = int(re.sub(r"\D", "", tile.inner_text().split("\n")[0]))
    assert shown >= 1
    tile.click()
    admin.page.wait_for_url(re.compile(r"/alerts\?status=open&severity="))
    assert _query(admin) == {"status": ["open"], "severity": [severity]}
    listed = _listed_ids(admin)
    answer = admin.api("GET", "/api/v1/alerts", params={"status": "open", "severity": severity, "limit": 200}).json()
    assert listed and listed <= {a["id"] for a in answer["data"]}
    assert all(a["severity"] == severity and a["status"] == "open" for a in answer["data"])


def test_tactic_heatmap_cell_opens_the_alert_list_of_its_tactic_and_hour(admin: Console) -> None:
    def tactic_alerts() -> bool:
        answer = admin.api("GET", "/api/v1/dashboard/tactic-activity")
        return answer.status_code == 200 and any(r["total"] > 0 for r in answer.json()["tactics"])
    wait_for(tactic_alerts, "a demo alert with an ATT&CK tactic", timeout=180)
    admin.goto("/dashboard")
    heatmap = admin.page.get_by_test_id("heatmap")
    latest = heatmap.locator("a[data-testid^='heat-']").last  # the latest hour with alerts
    latest.wait_for()
    admin.page.get_by_test_id("tile-alert-activity").get_by_role("img").wait_for()
    admin.shot("03c-dashboard-heatmap")
    # pinned to that node: a refresh (a new detection) may add rows while the test reads it
    cell = latest.element_handle()
    count = int(cell.inner_text())
    label = cell.get_attribute("aria-label") or ""
    tactic = str(cell.get_attribute("data-testid")).split("-", 1)[1].rsplit("-", 1)[0]
    assert count >= 1 and re.search(r"\d+ alertes$", label), label
    cell.click()
    admin.page.wait_for_url(re.compile(r"/alerts\?status=all&tactic="))
    params = _query(admin)
    assert params["tactic"] == [tactic] and set(params) == {"status", "tactic", "since", "until"}
    admin.page.get_by_test_id("filter-since").wait_for()
    listed = _listed_ids(admin)
    admin.shot("11c-alerts-of-a-heatmap-cell")
    # the list shows the alerts of that tactic active in that hour, as the API filters them
    answer = admin.api("GET", "/api/v1/alerts", params={"tactic": tactic, "since": params["since"][0],
                                                        "until": params["until"][0], "limit": 200}).json()["data"]
    assert listed <= {a["id"] for a in answer} and len(listed) >= 1
    assert all(tactic in a["tactics"] for a in answer)
    assert len(answer) >= count  # the cell was drawn a moment ago; alerts only join the hour since


def test_coverage_page_shows_the_techniques_of_the_shipped_rules(admin: Console) -> None:
    admin.goto("/coverage")
    matrix = admin.page.get_by_test_id("coverage-matrix")
    brute = matrix.get_by_test_id("cell-credential-access-T1110")
    brute.wait_for()
    label = brute.get_attribute("aria-label") or ""
    assert re.match(r"^T1110 Brute Force : [1-9]\d* règles, \d+ détections, \d+ alertes$", label), label
    summary = admin.page.get_by_test_id("coverage-summary").inner_text()
    assert re.match(r"^\d+ techniques sur \d+ couvertes par \d+ règles actives", summary), summary
    tactics = admin.page.locator("[data-testid^='tactic-']")
    assert tactics.count() == 14
    assert tactics.first.get_attribute("data-testid") == "tactic-reconnaissance"
    admin.page.get_by_test_id("coverage-legend").wait_for()
    admin.shot("08b-coverage")
    # keyboard: the cell is a button reached and pressed from the keyboard
    brute.focus()
    admin.page.keyboard.press("Enter")
    detail = admin.page.get_by_test_id("coverage-detail")
    detail.wait_for()
    assert "T1110" in admin.page.get_by_role("dialog").inner_text()
    admin.shot("08c-coverage-technique")
    detail.get_by_test_id("technique-alerts").click()
    admin.page.wait_for_url(re.compile(r"/alerts\?status=all&technique=T1110&since="))
    admin.page.get_by_role("heading", level=2).first.wait_for()

    admin.goto("/coverage?by=hits&covered=1")
    matrix.get_by_test_id("cell-credential-access-T1110").wait_for()
    uncovered = admin.api("GET", "/api/v1/dashboard/coverage").json()
    gaps = [t["id"] for c in uncovered["tactics"] for t in c["techniques"] if not t["rules"] and not t["hits"]]
    assert gaps and matrix.locator(f"[data-testid$='-{gaps[0]}']").count() == 0
    assert admin.raw_keys() == []
