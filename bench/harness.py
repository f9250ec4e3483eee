"""One benchmark run: its stack stood up, each round's phases run, and the results gathered."""

import json
import os
import subprocess
import sys
import time

from bench import baseline, page, procs
from bench.analysis import linearity
from bench.clients import Browser
from bench.config import Config, log, plan
from bench.phases import Bursts
from bench.poisson import Poisson
from bench.report import phase_line, send_cpu_line, targets
from bench.stack import Stack
from bench.window import wait_quiet


class Run:
    """The rounds (one per --procs value) of one `python -m bench`; `run()` returns the results."""

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.stack = Stack(cfg)
        self.browser: Browser | None = None

    @property
    def servers(self) -> list[procs.AppServer]:
        return self.stack.servers

    async def setup(self) -> None:
        cfg = self.cfg
        await self.stack.setup()
        counts = [p.n for p in plan(cfg, 1)]
        users = max(counts + [max(cfg.procs)])
        per_user = max(1, len(counts)) * len(cfg.procs) * len(cfg.servers)
        out = await self.stack.python(
            ["-m", "bench.dbsetup", "streams", "--users", str(users), "--per-user", str(per_user)]
        )
        data = json.loads(out)
        self.browser = Browser(data["users"], data["password"])

    async def run(self) -> dict:
        cfg = self.cfg
        started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        await self.setup()
        assert self.browser is not None
        results = {
            "started": started,
            "config": _config(cfg),
            "machine": _machine(),
            "phases": [],
            "send_cpu": [],
            "poisson": [],
            "capacity": [],
            "page": None,
        }
        bursts = Bursts(cfg, self.stack, self.browser)
        poisson = Poisson(cfg, self.stack, self.browser)
        rounds = [(server, k) for server in cfg.servers for k in cfg.procs]
        for round_index, (server, k) in enumerate(rounds):
            await self.stack.start_servers(k, server)
            await self._round(round_index, k, bursts, results)
            if cfg.arrivals == "poisson":
                await self._poisson(poisson, results)
            if cfg.page and round_index == 0:
                results["page"] = await page.over_http(cfg, self.stack, self.browser)
            await self.stack.stop_servers()
        # The SPEC's figures are the first server's (daphne's, unless --server puts uvicorn first).
        first = [p for p in results["phases"] if p["asgi_server"] == cfg.servers[0]]
        results["bytes_linearity"] = linearity(first)
        if len(cfg.servers) > 1:
            results["bytes_linearity_by_server"] = {
                s: linearity([p for p in results["phases"] if p["asgi_server"] == s]) for s in cfg.servers
            }
        results["targets"] = targets(results)
        return results

    async def _poisson(self, poisson: Poisson, results: dict) -> None:
        """The round's Poisson run, or its capacity search."""
        cfg = self.cfg
        if cfg.capacity:
            found = await poisson.capacity()
            results["poisson"] += [self._tag(t) for t in found["trials"]]
            results["capacity"].append(self._tag(found["capacity"]))
            results.setdefault("discarded_poisson", []).extend(self._tag(t) for t in found["discarded"])
        else:
            results["poisson"].append(self._tag(await poisson.run(cfg.rps or 2.0, cfg.duration)))
        self.stack.check_alive()

    def _tag(self, result: dict) -> dict:
        """A result gets the server it measured (daphne or uvicorn) and the CPUs that server ran on."""
        result["asgi_server"] = self.stack.server_kind
        result["server_cpus"] = self.stack.affinities()
        return result

    async def _round(self, round_index: int, k: int, bursts: Bursts, results: dict) -> None:
        """The round's planned phases; each phase's conversations are its slot's (bench.dbsetup)."""
        cfg = self.cfg
        phases = plan(cfg, k, self.stack.server_kind)
        for index, phase in enumerate(phases):
            slot = round_index * len(phases) + index
            log(
                cfg,
                f"phase {phase.label}: {phase.n} streams x {phase.tokens} tokens at {phase.rate:g} tok/s"
                f" ({'word' if phase.words else 'token'} deltas), send via {phase.via}, {k} "
                f"{self.stack.server_kind} process(es){cfg.pin_text()}",
            )
            if phase.kind == "send-cpu":
                result = await bursts.sends_only(slot, phase)
            else:
                result = await bursts.streams(slot, phase)
            self.stack.check_alive()
            if phase.key.endswith("w"):
                continue
            self._tag(result)
            if phase.kind == "send-cpu":
                results["send_cpu"].append(result)
                log(cfg, send_cpu_line(result))
                continue
            if phase.baseline:
                await wait_quiet(self.stack)
                result["baseline"] = await baseline.measure(
                    phase, self.stack.fake, self.stack.data_dir, cfg.pin_server, cfg.baseline_http
                )
            results["phases"].append(result)
            log(cfg, phase_line(result))

    async def close(self) -> None:
        if self.browser is not None:
            await self.browser.close()

    def cleanup(self) -> None:
        self.stack.cleanup()


def _config(cfg: Config) -> dict:
    """The options as the JSON records them."""
    return {
        "streams": cfg.streams,
        "tokens": cfg.tokens,
        "rate": cfg.rate,
        "words": cfg.words,
        "send_via": cfg.send_via,
        "arrivals": cfg.arrivals,
        "rps": cfg.rps,
        "duration_s": cfg.duration,
        "capacity": cfg.capacity,
        "capacity_first_token_ms": cfg.capacity_first_token_ms,
        "capacity_lag_ms": cfg.capacity_lag_ms,
        "procs": cfg.procs,
        "placement": cfg.placement,
        "send_cpu": cfg.send_cpu,
        "slow_clients": cfg.slow_clients,
        "redis": cfg.redis_url if max(cfg.procs) > 1 else "",
        "database": "postgresql" if cfg.database_url else "sqlite",
        "ramp_s": cfg.ramp,
        "page": cfg.page,
        "note": cfg.note,
        "server_switch_interval": cfg.server_switch_interval,
        "servers": cfg.servers,
        "uvicorn_ws": cfg.uvicorn_ws if "uvicorn" in cfg.servers else None,
        "pin": cfg.pin(),
    }


def _versions() -> dict:
    from importlib import metadata

    out = {}
    for name in ("daphne", "twisted", "uvicorn", "websockets", "h11", "channels"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _machine() -> dict:
    info = {
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "harness_cpus": procs.affinity(os.getpid()),  # after --pin: the harness's own
        "server_versions": _versions(),
    }
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        info["commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=procs.ROOT, capture_output=True, text=True, timeout=5
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=procs.ROOT,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout
        # The app as measured may differ from the commit: say which tracked files were modified.
        info["modified_files"] = [line[3:] for line in status.splitlines() if line.strip()]
    except (OSError, subprocess.SubprocessError):
        pass
    return info
