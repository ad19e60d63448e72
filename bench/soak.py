"""Soak: many clients at once against the real server, one of them deliberately slow.

Starts gunicorn on a fresh database with the demo data (SQLite by default, PostgreSQL with
`--postgres`), then runs `--clients` threads for `--seconds` seconds. Each client mixes
reads (the case list, a case, its events), writes (editing a draft), uploads (a small PDF to
a draft) and logins, as the demo's applicants, officer and manager. One more client sends an
`Idempotency-Key` POST whose body it trickles a few bytes at a time for most of the run: the
server must keep serving everyone else meanwhile.

It reports, per kind of request, the count, the statuses and p50/p99 latency, and exits 1
when any answer is a 5xx or a connection fails. Only 127.0.0.1 is contacted; every loop is
bounded by the run's duration.

    .venv/bin/python bench/soak.py                     # SQLite, 32 clients, 60 s
    .venv/bin/python bench/soak.py --postgres          # the same on the local PostgreSQL
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PASSWORD = "soak-Pass-2026"
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
PG_SERVER = "postgres://postgres@127.0.0.1:5432"


@dataclass
class Tally:
    """What every client saw, by kind of request."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: dict[str, list[float]] = field(default_factory=lambda: collections.defaultdict(list))
    statuses: dict[str, collections.Counter[int]] = field(
        default_factory=lambda: collections.defaultdict(collections.Counter)
    )
    errors: list[str] = field(default_factory=list)

    def add(self, kind: str, status: int, seconds: float) -> None:
        with self.lock:
            self.latencies[kind].append(seconds)
            self.statuses[kind][status] += 1

    def fail(self, kind: str, error: str) -> None:
        with self.lock:
            self.statuses[kind][0] += 1
            self.errors.append(f"{kind}: {error}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


def admin_sql(statement: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True, connect_timeout=5) as conn:
        conn.execute(statement)  # type: ignore[arg-type]


def login(base: str, username: str) -> str:
    for _attempt in range(20):
        response = requests.post(f"{base}/auth/token/", json={"username": username, "password": PASSWORD}, timeout=30)
        if response.status_code == 200:
            return str(response.json()["token"])
        if response.status_code != 429:
            raise RuntimeError(f"login as {username}: {response.status_code} {response.text[:200]}")
        time.sleep(min(int(response.headers.get("Retry-After", "3")), 10))
    raise RuntimeError(f"login as {username}: still throttled")


def make_drafts(base: str, token: str, count: int) -> list[str]:
    headers = {"Authorization": f"Bearer {token}"}
    me = requests.get(f"{base}/me/", headers=headers, timeout=30).json()
    programme = requests.get(f"{base}/programmes/", headers=headers, timeout=30).json()["results"][0]["code"]
    drafts = []
    for number in range(count):
        response = requests.post(
            f"{base}/cases/",
            headers=headers,
            json={
                "enterprise": me["enterprises"][0]["id"],
                "programme": programme,
                "support_type": "trademark",
                "title": f"Soak draft {number}",
                "requested_amount": 1_000_000,
            },
            timeout=30,
        )
        response.raise_for_status()
        drafts.append(response.json()["id"])
    return drafts


def slow_client(port: int, token: str, seconds: float, tally: Tally, stop: threading.Event) -> None:
    """An Idempotency-Key POST whose body arrives a byte at a time, for most of the run."""
    body = json.dumps({"comment": "x" * 64}).encode()
    head = (
        f"POST /api/v1/auth/logout/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {token}\r\nIdempotency-Key: {uuid.uuid4()}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    pause = max(seconds * 0.8 / len(body), 0.01)
    started = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=seconds + 30) as sock:
            sock.sendall(head)
            for byte in body:
                if stop.is_set():
                    break
                sock.sendall(bytes([byte]))
                time.sleep(pause)
            reply = sock.recv(65536).decode(errors="replace")
        status = int(reply.split(" ", 2)[1]) if reply.startswith("HTTP/") else 0
        tally.add("slow client", status, time.monotonic() - started)
    except OSError as exc:
        tally.fail("slow client", repr(exc))


def client(
    number: int,
    base: str,
    tokens: dict[str, str],
    drafts: dict[str, list[str]],
    until: float,
    tally: Tally,
) -> None:
    rng = random.Random(number)
    session = requests.Session()
    firm = "applicant" if number % 2 else "applicant2"
    as_firm = {"Authorization": f"Bearer {tokens[firm]}"}
    as_officer = {"Authorization": f"Bearer {tokens['officer']}"}
    case_ids: list[str] = []

    def call(kind: str, method: str, path: str, **kwargs: Any) -> requests.Response | None:
        started = time.monotonic()
        try:
            response = session.request(method, f"{base}{path}", timeout=60, **kwargs)
        except requests.RequestException as exc:
            tally.fail(kind, repr(exc))
            return None
        tally.add(kind, response.status_code, time.monotonic() - started)
        return response

    while time.monotonic() < until:
        roll = rng.random()
        if roll < 0.30:
            listed = call("list", "GET", "/cases/?page_size=20", headers=as_officer)
            if listed is not None and listed.status_code == 200:
                case_ids = [row["id"] for row in listed.json()["results"]] or case_ids
        elif roll < 0.50 and case_ids:
            call("detail", "GET", f"/cases/{rng.choice(case_ids)}/", headers=as_officer)
        elif roll < 0.60 and case_ids:
            call("events", "GET", f"/cases/{rng.choice(case_ids)}/events/", headers=as_officer)
        elif roll < 0.80:
            draft = rng.choice(drafts[firm])
            call("edit draft", "PATCH", f"/cases/{draft}/", headers=as_firm, json={"title": f"Soak {rng.random()}"})
        elif roll < 0.90:
            draft = rng.choice(drafts[firm])
            call(
                "upload",
                "POST",
                f"/cases/{draft}/documents/",
                headers={**as_firm, "Idempotency-Key": str(uuid.uuid4())},
                data={"kind": "other"},
                files={"file": ("hoso.pdf", PDF, "application/pdf")},
            )
        elif roll < 0.95:
            call("login", "POST", "/auth/token/", json={"username": firm, "password": PASSWORD})
        else:
            call("me", "GET", "/me/", headers=as_firm)


def p(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def report(tally: Tally, seconds: float, database: str) -> int:
    every = [value for values in tally.latencies.values() for value in values]
    print(f"\n{database}: {len(every)} answers in {seconds:.0f} s ({len(every) / seconds:.0f}/s)")
    print(f"{'request':<14} {'count':>6} {'p50 ms':>8} {'p99 ms':>8}  statuses")
    for kind in sorted(tally.statuses):
        values = sorted(tally.latencies.get(kind, [])) or [0.0]
        statuses = ", ".join(f"{code or 'error'}: {n}" for code, n in sorted(tally.statuses[kind].items()))
        print(
            f"{kind:<14} {sum(tally.statuses[kind].values()):>6} {p(values, 50) * 1000:>8.1f} "
            f"{p(values, 99) * 1000:>8.1f}  {statuses}"
        )
    fast = sorted(v for k, vs in tally.latencies.items() if k != "slow client" for v in vs)
    server_errors = sum(n for counter in tally.statuses.values() for code, n in counter.items() if code >= 500)
    failed = sum(counter[0] for counter in tally.statuses.values())
    print(f"all but the slow client: p50 {p(fast, 50) * 1000:.1f} ms, p99 {p(fast, 99) * 1000:.1f} ms")
    print(f"5xx: {server_errors}, failed connections: {failed}")
    for error in tally.errors[:10]:
        print(f"  {error}")
    return 1 if server_errors or failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--postgres", action="store_true", help="a fresh database on the local PostgreSQL")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--threads", type=int, default=8, help="threads per gunicorn worker (default 8)")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="ipsupport-soak-"))
    database = f"ipsupport_soak_{os.getpid()}"
    env = {
        **os.environ,
        "DATABASE_URL": f"{PG_SERVER}/{database}" if args.postgres else f"sqlite:///{work / 'soak.sqlite3'}",
        "DOCUMENTS_ROOT": str(work / "documents"),
        "DJANGO_DEBUG": "0",
        "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "LOG_LEVEL": "ERROR",
        # The soak is about contention, not the login throttle: every client is 127.0.0.1.
        "AUTH_THROTTLE_RATE": "100000/min",
        "AUTH_USERNAME_THROTTLE_RATE": "100000/min",
    }
    for name in ("CELERY_BROKER_URL", "CACHE_URL"):
        env.pop(name, None)
    server: subprocess.Popen[bytes] | None = None
    try:
        if args.postgres:
            admin_sql(f"CREATE DATABASE {database}")
        manage(env, "migrate", "--noinput")
        manage(env, "seed_demo", "--password", PASSWORD)
        port = free_port()
        server = subprocess.Popen(
            [
                str(Path(PYTHON).parent / "gunicorn"),
                "backend.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(args.workers),
                "--threads",
                str(args.threads),
                "--timeout",
                "120",
            ],
            cwd=ROOT,
            env=env,
            stdout=(work / "server.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}/api/v1"
        for _ in range(120):
            try:
                if requests.get(f"{base}/health/", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.5)
        tokens = {name: login(base, name) for name in ("applicant", "applicant2", "officer", "manager")}
        drafts = {firm: make_drafts(base, tokens[firm], 4) for firm in ("applicant", "applicant2")}

        tally, stop = Tally(), threading.Event()
        started = time.monotonic()
        until = started + args.seconds
        slow = threading.Thread(target=slow_client, args=(port, login(base, "manager"), args.seconds, tally, stop))
        workers = [
            threading.Thread(target=client, args=(n, base, tokens, drafts, until, tally)) for n in range(args.clients)
        ]
        slow.start()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=args.seconds + 120)
        stop.set()
        slow.join(timeout=60)
        return report(tally, time.monotonic() - started, "PostgreSQL" if args.postgres else "SQLite")
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
        if args.postgres:
            admin_sql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
