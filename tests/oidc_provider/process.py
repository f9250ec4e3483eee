"""The test provider as a subprocess, and a scripted person signing in at it (for tests that
drive the app with Django's test client instead of a browser)."""

from __future__ import annotations

import contextlib
import re
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

import requests

from tests.live import PYTHON, ROOT, _stop, _wait_http, app_env, free_port

from .serve import CLIENT_ID, CLIENT_SECRET, USERS

__all__ = ["CLIENT_ID", "CLIENT_SECRET", "USERS", "Provider", "sign_in_at_provider"]


@dataclass
class Provider:
    code_seconds: int = 60
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    def __post_init__(self) -> None:
        self.data_dir = Path(tempfile.mkdtemp(prefix="chat-idp-"))
        self.log_path = self.data_dir / "idp.log"
        self.env = app_env(self.data_dir, IDP_CODE_SECONDS=str(self.code_seconds))

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}/o"

    def start(self) -> Provider:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [PYTHON, "-m", "tests.oidc_provider.serve", "serve", str(self.data_dir), str(self.port)],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            _wait_http(f"http://127.0.0.1:{self.port}/health", self.proc, self.log_path, 60, "provider")
        except BaseException:
            self.stop()
            raise
        return self

    def register_client(self, redirect_uri: str) -> None:
        subprocess.run(
            [PYTHON, "-m", "tests.oidc_provider.serve", "client", str(self.data_dir), redirect_uri],
            cwd=ROOT, env=self.env, check=True, capture_output=True, timeout=60,
        )  # fmt: skip

    def app_settings(self, **extra: str) -> dict[str, str]:
        """The app's environment for this provider."""
        return {
            "CHAT_OIDC_ISSUER": self.issuer,
            "CHAT_OIDC_CLIENT_ID": CLIENT_ID,
            "CHAT_OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "CHAT_OIDC_PROVIDER_NAME": "Test IdP",
            "CHAT_OIDC_ALLOWED_DOMAINS": "example.com",
            "CHAT_OIDC_STAFF_VALUES": "chat-admins",
            **extra,
        }

    def expire_codes(self) -> None:
        """Every authorization code issued so far expires now: the test moves their expiry into the
        past in the provider's database, instead of waiting for their lifetime to run out."""
        with contextlib.closing(sqlite3.connect(self.data_dir / "idp.sqlite3")) as db, db:
            db.execute("UPDATE oauth2_provider_grant SET expires = datetime('now', '-1 minute')")

    def pause(self) -> None:
        """Stop serving (the provider is down) until start() again; its data stays."""
        _stop(self.proc)
        self.proc = None

    def stop(self) -> None:
        _stop(self.proc)
        self.proc = None
        shutil.rmtree(self.data_dir, ignore_errors=True)


def sign_in_at_provider(authorize_url: str, username: str, password: str | None = None) -> str:
    """Follow the provider's pages as a browser would: its login form, then the redirect back.
    Returns the app's callback URL with the code and state."""
    password = password or USERS[username][1]
    session = requests.Session()
    response = session.get(authorize_url, allow_redirects=True, timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.text).group(1)
    next_url = re.search(r'name="next" value="([^"]*)"', response.text).group(1).replace("&amp;", "&")
    form = {"csrfmiddlewaretoken": token, "username": username, "password": password, "next": next_url}
    response = session.post(response.url, data=form, allow_redirects=False, timeout=10)
    while response.status_code in (301, 302, 303):
        location = urljoin(response.url, response.headers["Location"])
        if not location.startswith(authorize_url.split("/o/")[0]):
            return location
        response = session.get(location, allow_redirects=False, timeout=10)
    raise AssertionError(f"the provider did not redirect back: {response.status_code} {response.text[:300]}")
