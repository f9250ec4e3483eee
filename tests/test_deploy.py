"""The Dockerfile cannot be built here (no Docker engine): check what can be checked by reading it."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [tuple(line.split(None, 1)) for line in lines]


def test_dockerfile_is_multi_stage_non_root_with_healthcheck_and_daphne():
    steps = instructions()
    kinds = [kind.upper() for kind, _ in steps]
    assert kinds.count("FROM") == 2 and kinds[0] == "FROM"
    assert all(
        kind in {"FROM", "ENV", "WORKDIR", "RUN", "COPY", "USER", "EXPOSE", "HEALTHCHECK", "CMD"}
        for kind in kinds
    )
    user = [arg for kind, arg in steps if kind == "USER"]
    assert user and user[-1] not in ("root", "0")
    assert kinds.index("USER") > max(i for i, kind in enumerate(kinds) if kind == "FROM")
    assert any("collectstatic" in arg for kind, arg in steps if kind == "RUN")
    assert "healthz" in next(arg for kind, arg in steps if kind == "HEALTHCHECK")
    assert "daphne" in next(arg for kind, arg in steps if kind == "CMD")


def test_every_file_the_dockerfile_copies_from_the_context_exists():
    for kind, arg in instructions():
        if kind == "COPY" and "--from=" not in arg:
            *sources, _ = [word for word in arg.split() if not word.startswith("--")]
            for source in sources:
                assert (ROOT / source).exists(), source


def test_compose_proxies_websockets_to_two_workers():
    compose = (ROOT / "docker-compose.yml").read_text()
    assert re.search(r"^  app1:", compose, re.M) and re.search(r"^  app2:", compose, re.M)
    assert "postgres:" in compose and "redis:" in compose
    nginx = (ROOT / "deploy/nginx.conf").read_text()
    assert "proxy_set_header Upgrade $http_upgrade;" in nginx and "server app2:8000;" in nginx


def test_the_image_runs_the_retention_purge_beside_the_server():
    cmd = next(arg for kind, arg in instructions() if kind == "CMD")
    assert "manage.py purge --daily &" in cmd and cmd.index("migrate") < cmd.index("purge") < cmd.index(
        "daphne"
    )


def test_the_image_and_make_run_bring_stored_html_up_to_date_after_migrating():
    """A newer renderer (math, say) reaches old replies: `manage.py rerender` after `migrate`."""
    cmd = next(arg for kind, arg in instructions() if kind == "CMD")
    assert "manage.py rerender &" in cmd
    assert cmd.index("migrate") < cmd.index("rerender") < cmd.index("daphne")
    setup = (ROOT / "Makefile").read_text().split("\nsetup:", 1)[1].split("\n\n", 1)[0]
    assert setup.index("migrate") < setup.index("manage.py rerender")
