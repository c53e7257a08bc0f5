"""The rule editor in Debian's Chromium against the real Guetteur playing the demo (the
session's `server`, an admin in French): a new rule edited with an error shows the error in
place (underlined on its line, marked in the gutter, listed with its line number), fixed it
is valid, tested on the last 24 h, saved into the local rules, then turned off. Screenshots go
to tests/web/artifacts/."""

from __future__ import annotations

import re

from .console_browser import Console
from .console_server import wait_for


def _replace_line(console: Console, starting: str, new: str) -> None:
    """Replace the editor's line that starts with `starting` by `new` (click it, select it
    with the keyboard, type over it)."""
    line = console.page.locator(".cm-content .cm-line").filter(has_text=re.compile(f"^{re.escape(starting)}"))
    line.first.click()
    console.page.keyboard.press("End")
    console.page.keyboard.press("Shift+Home")
    console.page.keyboard.type(new)


def test_edit_with_an_error_in_place_then_save_and_disable(admin: Console) -> None:
    page = admin.page
    admin.goto("/rules")
    page.get_by_test_id("new-rule").click()
    editor = page.get_by_test_id("rule-editor")
    editor.wait_for()
    page.get_by_test_id("rule-valid").wait_for()  # the template is a valid rule

    _replace_line(admin, "level:", "level: apocalyptic")
    errors = page.get_by_test_id("rule-errors")
    errors.wait_for()
    assert "ligne 20" in errors.inner_text() and "apocalyptic" in errors.inner_text()
    marked = page.locator(".cm-lintRange-error")
    marked.first.wait_for()
    assert "apocalyptic" in marked.first.inner_text()  # underlined where the value is
    page.locator(".cm-lint-marker-error").first.wait_for()  # and marked in the gutter
    assert page.get_by_test_id("rule-save").is_disabled()
    admin.shot("08d-rule-error-in-place")

    _replace_line(admin, "level:", "level: high")
    page.get_by_test_id("rule-valid").wait_for()
    assert page.locator(".cm-lintRange-error").count() == 0
    _replace_line(admin, "title:", "title: Navigator rule")
    page.get_by_test_id("rule-valid").wait_for()

    page.get_by_test_id("rule-test").click()
    result = page.get_by_test_id("rule-test-result")
    result.wait_for()
    # numbers in the French locale: 1\u202f256 (a narrow no-break space groups the thousands)
    assert re.search(r"\d[\d\u202f\u00a0]* déclenchements? sur \d[\d\u202f\u00a0]* événements rejoués", result.inner_text())

    page.get_by_test_id("rule-save").click()
    page.wait_for_url(re.compile(r"/rules/[0-9a-f-]{36}$"))
    rule_id = page.url.rsplit("/", 1)[1]
    page.get_by_text("Navigator rule").first.wait_for()
    saved = admin.api("GET", f"/api/v1/detection/rules/{rule_id}").json()
    assert (saved["title"], saved["level"], saved["origin"], saved["enabled"]) == ("Navigator rule", "high", "local", True)
    admin.shot("08e-rule-saved")

    page.get_by_test_id("rule-enabled").click(force=True)  # the switch's input (Mantine hides it under its track)
    page.get_by_test_id("rule-off").wait_for()
    wait_for(lambda: admin.api("GET", f"/api/v1/detection/rules/{rule_id}").json()["enabled"] is False,
             "the rule turned off")
    listed = {r["rule_id"]: r for r in admin.api("GET", "/api/v1/detection/rules").json()["data"]}
    assert listed[rule_id]["enabled"] is False

    admin.goto("/rules")
    switch = page.get_by_test_id(f"switch-{rule_id}")
    switch.wait_for(state="attached")
    assert not switch.is_checked()
    admin.shot("08f-rules-list")
    assert not admin.errors
