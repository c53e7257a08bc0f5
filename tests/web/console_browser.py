"""One browser context on the console (its own session storage: one logged-in person), with the
steps the tests share: log in, enrol a second factor, open a page, take its screenshot."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pyotp

CATALOGUE = Path(__file__).resolve().parents[2] / "web" / "src" / "i18n" / "en.ts"
# catalogue keys that are also ECS field names, shown as data on purpose
_ALSO_FIELDS = {"event.original"}


def catalogue_keys(source: Path = CATALOGUE) -> set[str]:
    """Every key of the English catalogue (plural suffixes removed), read from en.ts."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', source.read_text())  # strings out: they may hold braces
    body = text[text.index("const en = {") + len("const en = {"):]
    keys: set[str] = set()
    path: list[str] = []
    for token in re.finditer(r"(\w+):\s*(\{|\"\")|\}", body):
        if token.group(0) == "}":
            if not path:
                break
            path.pop()
        elif token.group(2) == "{":
            path.append(token.group(1))
        else:
            keys.add(".".join([*path, re.sub(r"_(one|other|many)$", "", token.group(1))]))
    return keys - _ALSO_FIELDS


@dataclass
class Console:
    context: Any
    page: Any
    base_url: str
    artifacts: Path
    errors: list[str] = field(default_factory=list)
    totp_secret: str | None = None

    @classmethod
    def open(cls, browser: Any, base_url: str, artifacts: Path, locale: str = "fr-FR",
             width: int = 1280, height: int = 900) -> Console:
        context = browser.new_context(viewport={"width": width, "height": height}, locale=locale,
                                      base_url=base_url, accept_downloads=True)
        context.set_default_timeout(45_000)  # generous: the suite runs beside other heavy tests on 2 cores
        page = context.new_page()
        console = cls(context, page, base_url, artifacts)
        page.on("pageerror", lambda error: console.errors.append(str(error)))
        return console

    def close(self) -> None:
        self.context.close()

    def goto(self, path: str) -> None:
        self.page.goto(path)

    def shot(self, name: str) -> None:
        self.artifacts.mkdir(parents=True, exist_ok=True)
        self.page.wait_for_timeout(300)  # let charts draw their last frame
        self.page.screenshot(path=str(self.artifacts / f"{name}.png"), full_page=True)

    def login(self, user: str, password: str, code: str | None = None, french: bool = True,
              succeeds: bool = True) -> None:
        self.goto("/")
        labels = ("Nom d'utilisateur", "Mot de passe", "Code (second facteur)", "Se connecter") if french else \
            ("User name", "Password", "Code (second factor)", "Log in")
        self.page.get_by_label(labels[0]).fill(user)
        self.page.get_by_label(re.compile(f"^{labels[1]}")).fill(password)
        if code:
            self.page.get_by_label(labels[2]).fill(code)
        self.page.get_by_role("button", name=labels[3]).click()
        if succeeds:
            self.page.get_by_test_id("whoami").wait_for()

    def first_admin_login(self, user: str, password: str) -> None:
        """The first admin's first login: the console asks for a second factor before anything."""
        self.goto("/")
        self.shot("01-login")
        self.login(user, password, succeeds=False)
        self.page.get_by_role("button", name="Générer mon secret").click()
        secret = self.page.get_by_test_id("totp-secret").inner_text().strip()
        self.shot("02-totp-enrolment")
        self.page.get_by_label("Code actuel").fill(pyotp.TOTP(secret).now())
        self.page.get_by_role("button", name="Confirmer").click()
        self.page.get_by_test_id("whoami").wait_for()
        self.totp_secret = secret

    def tokens(self) -> dict[str, Any]:
        raw = self.page.evaluate("sessionStorage.getItem('guetteur.session')")
        assert raw, "not logged in"
        tokens: dict[str, Any] = json.loads(raw)
        return tokens

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A call with this session's access token (what the page itself would send)."""
        headers = {"Authorization": f"Bearer {self.tokens()['access_token']}"}
        return httpx.request(method, self.base_url + path, headers=headers, timeout=30, **kwargs)

    def raw_keys(self) -> list[str]:
        """Catalogue keys on the page, outside <code> (where data such as audit actions is shown)."""
        text = self.page.evaluate("""() => { const body = document.body.cloneNode(true);
            body.querySelectorAll('code, pre').forEach((e) => e.remove()); return body.innerText; }""")
        return sorted(key for key in catalogue_keys() if re.search(rf"(?<![\\w.]){re.escape(key)}(?![\\w.])", text))
