"""Benchmark the case API against a bare Django view, in one run. See bench/README.md.

    .venv/bin/python bench/run.py [--cases 100000] [--requests 500] [--http] [--reset]

Seeds the benchmark database (reused when it already holds the cases), then times, with a
real bearer token of an officer who sees every non-draft case:

    bare view, first page    GET /bench/bare-cases/                   values() + JsonResponse
    bare view, deep page     GET /bench/bare-cases/?before=<ts>       same keyset filter
    API list, first page     GET /api/v1/cases/
    API list, deep page      GET /api/v1/cases/?cursor=<row ~half way down>
    API detail               GET /api/v1/cases/{id}/                  a different case each time
    API receive              POST /api/v1/cases/{id}/receive/ {}      a fresh submitted case each time

and, for the partner-integration features, in the same run:

    receive + Idempotency-Key  POST …/receive/ {} with a fresh key        a fresh case each time
    replay                     the same POST with a key already used     the stored response
    list as a partner          GET /api/v1/cases/ with Bearer ipk_…      access "all", cases:read
    receive + 3 webhooks       POST …/receive/ {} while 3 subscriptions  a fresh case each time
                               want case.state_changed (only for this scenario's own requests)

and checks two targets: the list's throughput is at least 40% of the bare view's, and the
deep page's p50 is within 1.5x of the first page's. Prints a table, writes
bench/results/latest.json and exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import datetime as dt
import gc
import http.client
import io
import itertools
import json
import os
import platform
import pstats
import random
import shlex
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol
from urllib.parse import parse_qs, urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SETTINGS = "bench.settings"

LIST_MIN_SHARE = 0.40  # list throughput / bare view throughput
DEEP_MAX_FACTOR = 1.5  # deep page p50 / first page p50
PAGE_SIZE = 20
BENCH_PARTNER = "bench partner (access all)"
WEBHOOK_SUBSCRIPTIONS = 3
WEBHOOK_URL = "https://example.invalid/hook"


# --- Transports ------------------------------------------------------------------------------


class Reply(NamedTuple):
    status: int
    body: bytes
    headers: dict[str, str]  # names in lower case


class Transport(Protocol):
    name: str

    def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply: ...


class InProcess:
    """Django's WSGI application called directly, as a WSGI server would call it: the
    request_started/request_finished signals run (so SQLite reconnects per request, as in
    production), but no socket or HTTP parsing is involved."""

    name = "in-process WSGI"

    def __init__(self) -> None:
        from django.core.wsgi import get_wsgi_application

        self.app = get_wsgi_application()

    def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        path_info, _, query = path.partition("?")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path_info,
            "SCRIPT_NAME": "",
            "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "127.0.0.1",
            "HTTP_ACCEPT": "application/json",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        if body:
            environ["CONTENT_TYPE"] = "application/json"
            environ["CONTENT_LENGTH"] = str(len(body))
        if token:
            environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        for name, value in (headers or {}).items():
            meta = name.upper().replace("-", "_")
            environ[meta if meta in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{meta}"] = value
        status: list[str] = []
        answered: dict[str, str] = {}

        def start_response(line: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            status.append(line)
            answered.update((name.lower(), value) for name, value in response_headers)

        result = self.app(environ, start_response)
        try:
            content = b"".join(result)
        finally:
            result.close()  # type: ignore[attr-defined]  # request_finished, as a server would
        return Reply(int(status[0][:3]), content, answered)


class OverHttp:
    """Real HTTP to a gunicorn (one sync worker) that this script starts on 127.0.0.1."""

    name = "HTTP, gunicorn 1 sync worker"

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": SETTINGS}
        command = [sys.executable, "-m", "gunicorn", "backend.wsgi:application"]
        command += ["--bind", f"127.0.0.1:{self.port}", "--workers", "1", "--chdir", str(ROOT)]
        command += ["--log-level", "warning", "--timeout", "120"]
        self.process = subprocess.Popen(command, env=env, cwd=ROOT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if self.request("GET", "/api/v1/health/")[0] == 200:
                    return
            except OSError:
                pass
            if self.process.poll() is not None:
                raise SystemExit("bench: gunicorn exited at start")
            time.sleep(0.2)
        self.close()
        raise SystemExit("bench: gunicorn did not answer within 60 s")

    def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        sent = {"Host": "127.0.0.1", "Accept": "application/json"}
        if body:
            sent["Content-Type"] = "application/json"
        if token:
            sent["Authorization"] = f"Bearer {token}"
        sent.update(headers or {})
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            conn.request(method, path, body=body or None, headers=sent)
            response = conn.getresponse()
            content = response.read()
            return Reply(response.status, content, {name.lower(): value for name, value in response.getheaders()})
        finally:
            conn.close()

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


# --- Scenarios ------------------------------------------------------------------------------


@dataclass
class Scenario:
    key: str
    label: str
    method: str
    paths: Callable[[], str]  # the next request's path
    token: str | None
    example: str = ""
    body: bytes = b""
    headers: Callable[[], dict[str, str]] | None = None  # the next request's extra headers
    # Set up around each run of this scenario's requests (a block, the warm-up, a check),
    # outside the timed requests; the others never see what it sets up.
    setup: Callable[[], AbstractContextManager[object]] = nullcontext
    durations: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # this process's CPU time per request
    last_cpu: float = 0.0
    last_headers: dict[str, str] = field(default_factory=dict)
    queries: int | None = None

    def once(self, transport: Transport) -> tuple[int, bytes, float]:
        path = self.paths()
        extra = self.headers() if self.headers else None
        cpu, started = time.process_time(), time.perf_counter()
        status, content, self.last_headers = transport.request(self.method, path, self.body, self.token, extra)
        elapsed, self.last_cpu = time.perf_counter() - started, time.process_time() - cpu
        if status != 200:
            raise SystemExit(f"bench: {self.method} {path} answered {status}: {content[:500]!r}")
        return status, content, elapsed

    def stats(self) -> dict[str, Any]:
        ms = sorted(d * 1000 for d in self.durations)
        return {
            "label": self.label,
            "request": f"{self.method} {self.example}",
            "n": len(ms),
            "p50_ms": round(statistics.median(ms), 3),
            "p95_ms": round(statistics.quantiles(ms, n=100, method="inclusive")[94], 3),
            "mean_ms": round(statistics.fmean(ms), 3),
            "max_ms": round(ms[-1], 3),
            "rps": round(len(ms) / (sum(ms) / 1000), 1),
            # In-process only: CPU time of this process, which other load on the machine
            # does not inflate (wall time does). Over HTTP the work is in the server.
            "cpu_p50_ms": round(statistics.median(self.cpu) * 1000, 3) if self.cpu else None,
            "queries": self.queries,
        }


def drf_cursor(position: str) -> str:
    """The `cursor` DRF's CursorPagination puts in `next` for a page that starts after the
    row at `position` (offset 0, forward): base64 of the query string `p=<position>`."""
    return base64.b64encode(urlencode({"p": position}).encode("ascii")).decode("ascii")


def cursor_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["cursor"][0]


def ids(content: bytes) -> list[str]:
    return [str(row["id"]) for row in json.loads(content)["results"]]


# --- Partner integration --------------------------------------------------------------------


def bench_partner() -> tuple[Any, str]:
    """The benchmark's partner system (access "all", made once through the services) and a
    fresh `cases:read` key for this run: the raw key is returned only when it is created.
    The keys of earlier runs, and subscriptions a crashed run left behind, are deleted."""
    from accounts.models import User
    from accounts.roles import Role
    from partners import services
    from partners.models import Access, Partner, PartnerKey, Scope
    from webhooks.models import Subscription

    manager = User.objects.filter(groups__name=Role.MANAGER, is_active=True).order_by("username").first()
    if manager is None:
        raise SystemExit("bench: no manager in the benchmark database to register the partner: run with --reset")
    partner = Partner.objects.filter(name=BENCH_PARTNER).first()
    if partner is None:
        partner = services.partner_create(actor=manager, name=BENCH_PARTNER, access=Access.ALL)
    elif partner.access != Access.ALL or not partner.is_active:
        partner = services.partner_update(
            actor=manager, partner=partner, data={"access": Access.ALL, "is_active": True}
        )
    PartnerKey.objects.filter(partner=partner).delete()
    Subscription.objects.filter(partner=partner).delete()
    others = Subscription.objects.filter(is_active=True).count()
    if others:
        log(f"WARNING: {others} other active webhook subscriptions: every receive scenario fans out to them")
    _key, raw = services.key_create(
        actor=manager, partner=partner, name=f"bench {dt.date.today().isoformat()}", scopes=[Scope.CASES_READ]
    )
    return partner, raw


def webhook_subscriptions(partner: Any) -> Callable[[], AbstractContextManager[object]]:
    """A context in which the partner has WEBHOOK_SUBSCRIPTIONS active subscriptions to
    `case.state_changed`, as `webhooks.services.subscription_create` would write them
    (an encrypted secret each; the URL is not validated, nothing is sent). They are
    deleted, with their deliveries, on the way out: the partner reaches every case, so
    while they exist every receive fans out, and only one scenario is meant to."""
    from webhooks import signing
    from webhooks.models import EventType, Subscription

    secrets = [signing.encrypt(signing.new_secret()) for _ in range(WEBHOOK_SUBSCRIPTIONS)]

    @contextmanager
    def subscribed() -> Iterator[None]:
        rows = Subscription.objects.bulk_create(
            Subscription(
                partner=partner,
                url=WEBHOOK_URL,
                description=f"bench {n}",
                event_types=[EventType.CASE_STATE_CHANGED.value],
                secret_encrypted=secret,
            )
            for n, secret in enumerate(secrets, 1)
        )
        try:
            yield
        finally:
            Subscription.objects.filter(pk__in=[row.pk for row in rows]).delete()

    return subscribed


# --- Database -------------------------------------------------------------------------------


def prepare_database(*, reset: bool) -> str:
    """Create (or, with reset, recreate) the benchmark database. Returns a description."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        path = Path(db["NAME"])
        path.parent.mkdir(parents=True, exist_ok=True)
        if reset:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"SQLite {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}"
    import psycopg
    from psycopg import sql

    params = {"host": db["HOST"] or None, "port": db["PORT"] or None, "user": db["USER"] or None}
    params["password"] = db["PASSWORD"] or None
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]).fetchone()
        if exists and reset:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(db["NAME"])))
        if not exists or reset:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db["NAME"])))
        version = conn.info.server_version
    return f"PostgreSQL {version // 10000}.{version % 10000} database {db['NAME']!r} on {db['HOST']}:{db['PORT']}"


# --- Main -------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100_000, help="cases to seed (default 100000)")
    parser.add_argument("--requests", type=int, default=500, help="timed requests per scenario (default 500)")
    parser.add_argument("--warmup", type=int, default=50, help="untimed requests per scenario first (default 50)")
    parser.add_argument("--block", type=int, default=25, help="requests per scenario per round (default 25)")
    parser.add_argument("--deep-row", type=int, default=0, help="row the deep page starts after (default: middle)")
    parser.add_argument("--http", action="store_true", help="time real HTTP against gunicorn instead of in-process")
    parser.add_argument("--reset", action="store_true", help="drop the benchmark database and seed again")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="also cProfile N requests of each GET")
    parser.add_argument("--seed", type=int, default=2026, help="random seed of the data and sampling")
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.json")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Run as a script, bench/ is sys.path[0]; the project root must be there instead.
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from knox.models import AuthToken

    from bench import seed as seeding
    from cases.models import Case, CaseState

    RESULTS.mkdir(parents=True, exist_ok=True)
    database = prepare_database(reset=args.reset)
    log(f"database: {database}")
    call_command("migrate", interactive=False, verbosity=0)
    log(f"seeding {args.cases:,} cases (skipped when already there) ...")
    info = seeding.seed(cases=args.cases, rng_seed=args.seed, log=log)
    log(
        f"  {'reused' if info.reused else 'seeded'}: {info.cases:,} cases, {info.events:,} events"
        + ("" if info.reused else f" in {info.seconds:.0f} s")
    )

    rng = random.Random(args.seed)
    officer = seeding.bench_officer()
    AuthToken.objects.filter(user=officer).delete()  # knox reads all of a user's tokens per request
    _instance, token = AuthToken.objects.create(user=officer)

    visible = Case.objects.filter(deleted_at__isnull=True).exclude(state=CaseState.DRAFT)
    visible_count = visible.count()
    deep_row = args.deep_row or visible_count // 2
    if not PAGE_SIZE < deep_row < visible_count - PAGE_SIZE:
        raise SystemExit(f"bench: --deep-row must be between {PAGE_SIZE} and {visible_count - PAGE_SIZE}")
    deep_at: dt.datetime = visible.order_by("-created_at").values_list("created_at", flat=True)[deep_row - 1]
    after_deep = visible.filter(created_at__lt=deep_at).order_by("-created_at")
    deep_expected = [str(pk) for pk in after_deep.values_list("id", flat=True)[:PAGE_SIZE]]
    detail_ids = [str(pk) for pk in visible.values_list("id", flat=True)]
    detail_ids = rng.sample(detail_ids, min(1000, len(detail_ids)))
    # Three scenarios receive a fresh case per request (+ the check and the query count);
    # the replay, one.
    needed = 3 * (args.warmup + args.requests + 2) + 1
    submitted = Case.objects.filter(state=CaseState.SUBMITTED, deleted_at__isnull=True)
    fresh = [str(pk) for pk in submitted.values_list("id", flat=True)]
    if len(fresh) < needed:
        raise SystemExit(f"bench: {len(fresh)} submitted cases left, {needed} needed: run with --reset to reseed")
    fresh = rng.sample(fresh, needed)
    replay_case = fresh.pop()
    replay_key = f"bench-replay-{uuid.uuid4()}"

    partner, partner_token = bench_partner()
    subscribed = webhook_subscriptions(partner)
    if settings.CELERY_BROKER_URL:
        log("note: CELERY_BROKER_URL is set, so the receive scenarios also queue their tasks and webhook runs")

    deep_cursor = urlencode({"cursor": drf_cursor(str(deep_at))})
    before = urlencode({"before": deep_at.isoformat()})
    turn = itertools.count()
    scenarios = [
        Scenario("bare_first", "bare view, first page", "GET", lambda: "/bench/bare-cases/", None),
        Scenario("bare_deep", "bare view, deep page", "GET", lambda: f"/bench/bare-cases/?{before}", None),
        Scenario("list_first", "API list, first page", "GET", lambda: "/api/v1/cases/", token),
        Scenario("list_deep", "API list, deep page", "GET", lambda: f"/api/v1/cases/?{deep_cursor}", token),
        Scenario(
            "detail",
            "API detail",
            "GET",
            lambda: f"/api/v1/cases/{detail_ids[next(turn) % len(detail_ids)]}/",
            token,
        ),
        Scenario("receive", "API receive action", "POST", lambda: f"/api/v1/cases/{fresh.pop()}/receive/", token),
        Scenario(
            "receive_idem",
            "API receive with Idempotency-Key",
            "POST",
            lambda: f"/api/v1/cases/{fresh.pop()}/receive/",
            token,
            headers=lambda: {"Idempotency-Key": f"bench-{uuid.uuid4()}"},
        ),
        Scenario(
            "replay",
            "API replay",
            "POST",
            lambda: f"/api/v1/cases/{replay_case}/receive/",
            token,
            headers=lambda: {"Idempotency-Key": replay_key},
        ),
        Scenario("partner_list", "API list as a partner", "GET", lambda: "/api/v1/cases/", partner_token),
        Scenario(
            "receive_webhooks",
            f"API receive with {WEBHOOK_SUBSCRIPTIONS} webhook subscriptions",
            "POST",
            lambda: f"/api/v1/cases/{fresh.pop()}/receive/",
            token,
            setup=subscribed,
        ),
    ]
    for scenario in scenarios:
        if scenario.method == "POST":
            scenario.body = b"{}"
    examples = {
        "bare_first": "/bench/bare-cases/",
        "bare_deep": f"/bench/bare-cases/?before=<created_at of row {deep_row:,}>",
        "list_first": "/api/v1/cases/",
        "list_deep": f"/api/v1/cases/?cursor=<after row {deep_row:,}, page {deep_row // PAGE_SIZE + 1:,}>",
        "detail": f"/api/v1/cases/{{id}}/ ({len(detail_ids)} cases in turn)",
        "receive": "/api/v1/cases/{id}/receive/ {} (a fresh submitted case each)",
        "receive_idem": "/api/v1/cases/{id}/receive/ {} + Idempotency-Key (a fresh case and key each)",
        "replay": "/api/v1/cases/{id}/receive/ {} + Idempotency-Key (the same case and key: the stored answer)",
        "partner_list": "/api/v1/cases/ (Bearer ipk_…: a partner with access all, scope cases:read)",
        "receive_webhooks": (
            f"/api/v1/cases/{{id}}/receive/ {{}} ({WEBHOOK_SUBSCRIPTIONS} active subscriptions to "
            "case.state_changed; a fresh case each)"
        ),
    }
    by_key = {s.key: s for s in scenarios}
    for scenario in scenarios:
        scenario.example = examples[scenario.key]

    transport: Transport = OverHttp() if args.http else InProcess()
    in_process = transport if isinstance(transport, InProcess) else InProcess()
    try:
        log(f"transport: {transport.name}")
        check(by_key, transport, deep_expected=deep_expected)
        for scenario in scenarios:  # queries per request, counted in this process
            with scenario.setup(), CaptureQueriesContext(connection) as captured:
                scenario.once(in_process)
            scenario.queries = len(captured)
        log(f"warming up: {args.warmup} requests per scenario ...")
        for scenario in scenarios:
            with scenario.setup():
                for _ in range(args.warmup):
                    scenario.once(transport)
        gc.collect()
        log(f"timing: {args.requests} requests per scenario, interleaved in rounds of {args.block} ...")
        started = time.monotonic()
        rounds = 0
        while any(len(s.durations) < args.requests for s in scenarios):
            order = scenarios[rounds % len(scenarios) :] + scenarios[: rounds % len(scenarios)]
            for scenario in order:
                count = min(args.block, args.requests - len(scenario.durations))
                if count <= 0:
                    continue
                with scenario.setup():  # untimed: only the requests are
                    for _ in range(count):
                        scenario.durations.append(scenario.once(transport)[2])
                        if in_process is transport:
                            scenario.cpu.append(scenario.last_cpu)
            rounds += 1
        timed_seconds = time.monotonic() - started
    finally:
        if isinstance(transport, OverHttp):
            transport.close()

    results = {s.key: s.stats() for s in scenarios}
    targets = evaluate(results)
    report = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": command_line(),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "django": django.get_version(),
            "platform": platform.platform(),
        },
        "database": database,
        "transport": transport.name,
        "celery_broker": bool(settings.CELERY_BROKER_URL),
        "cases": info.cases,
        "visible_cases": visible_count,
        "events": info.events,
        "seed_seconds": round(info.seconds, 1),
        "deep_row": deep_row,
        "deep_page": deep_row // PAGE_SIZE + 1,
        "requests": args.requests,
        "warmup": args.warmup,
        "timed_seconds": round(timed_seconds, 1),
        "scenarios": results,
        "targets": targets,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print_report(report)
    log(f"written: {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}")

    if args.profile:
        profile(scenarios, in_process, args.profile)
    return 0 if all(t["pass"] for t in targets) else 1


def check(by_key: dict[str, Scenario], transport: Transport, *, deep_expected: list[str]) -> None:
    """The API and the bare view return the same rows, and the deep cursor is DRF's own."""
    _, api_first, _ = by_key["list_first"].once(transport)
    _, bare_first, _ = by_key["bare_first"].once(transport)
    first_ids = ids(api_first)
    if len(first_ids) != PAGE_SIZE or first_ids != ids(bare_first):
        raise SystemExit("bench: the API's first page and the bare view's differ")
    from cases.models import Case

    position = Case.objects.get(pk=first_ids[-1]).created_at
    if cursor_of(json.loads(api_first)["next"]) != drf_cursor(str(position)):
        raise SystemExit("bench: the cursor built here differs from the one DRF put in `next`")
    _, api_deep, _ = by_key["list_deep"].once(transport)
    _, bare_deep, _ = by_key["bare_deep"].once(transport)
    if not ids(api_deep) == ids(bare_deep) == deep_expected:
        raise SystemExit("bench: the deep pages of the API and the bare view differ from the expected rows")
    _, detail, _ = by_key["detail"].once(transport)
    _, received, _ = by_key["receive"].once(transport)
    if json.loads(received)["state"] != "in_review" or "id" not in json.loads(detail):
        raise SystemExit("bench: detail or receive answered something unexpected")
    log("checked: same rows in the API and the bare view (first and deep page); detail and receive answer 200")
    check_partner_integration(by_key, transport, first_ids=first_ids, received=received)


def check_partner_integration(
    by_key: dict[str, Scenario], transport: Transport, *, first_ids: list[str], received: bytes
) -> None:
    """A fresh key runs the action; the replay answers with the stored response and says so;
    the partner sees the officer's first page; only the webhook scenario writes deliveries."""
    from api.idempotency import REPLAYED_HEADER
    from webhooks.models import Delivery, EventType, Message

    replayed_header = REPLAYED_HEADER.lower()
    keyed = by_key["receive_idem"]
    _, received_keyed, _ = keyed.once(transport)
    if json.loads(received_keyed)["state"] != "in_review" or replayed_header in keyed.last_headers:
        raise SystemExit("bench: the receive with a fresh Idempotency-Key answered something unexpected")
    replay = by_key["replay"]
    _, original, _ = replay.once(transport)  # the key's first use: runs the action, keeps the answer
    if json.loads(original)["state"] != "in_review" or replayed_header in replay.last_headers:
        raise SystemExit("bench: the first use of the replay's key answered something unexpected")
    _, replayed, _ = replay.once(transport)
    if replay.last_headers.get(replayed_header) != "true" or replayed != original:
        raise SystemExit(
            f"bench: the replay did not answer with the stored response and {REPLAYED_HEADER}: true "
            f"(headers {replay.last_headers})"
        )
    _, partner_first, _ = by_key["partner_list"].once(transport)
    if ids(partner_first) != first_ids:
        raise SystemExit("bench: the partner's first page differs from the officer's")

    def deliveries(content: bytes) -> int:
        return Delivery.objects.filter(message__case_id=json.loads(content)["id"]).count()

    if deliveries(received) or deliveries(received_keyed):
        raise SystemExit("bench: a receive outside the webhook scenario wrote deliveries")
    webhooks = by_key["receive_webhooks"]
    with webhooks.setup():
        _, received_hooked, _ = webhooks.once(transport)
        case_id = json.loads(received_hooked)["id"]
        message = Message.objects.filter(case_id=case_id, event_type=EventType.CASE_STATE_CHANGED).first()
        if message is None or deliveries(received_hooked) != WEBHOOK_SUBSCRIPTIONS:
            raise SystemExit(
                f"bench: the webhook receive did not write a case.state_changed message with "
                f"{WEBHOOK_SUBSCRIPTIONS} deliveries"
            )
    log(
        f"checked: a fresh Idempotency-Key runs the action; the replay answers the stored response with "
        f"{REPLAYED_HEADER}: true; the partner sees the officer's first page; only the webhook scenario "
        f"writes deliveries ({WEBHOOK_SUBSCRIPTIONS})"
    )


def evaluate(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    share = results["list_first"]["rps"] / results["bare_first"]["rps"]
    factor = results["list_deep"]["p50_ms"] / results["list_first"]["p50_ms"]
    return [
        {
            "name": "list throughput / bare view throughput (first page)",
            "value": round(share, 3),
            "target": f">= {LIST_MIN_SHARE:.2f}",
            "pass": share >= LIST_MIN_SHARE,
        },
        {
            "name": "list deep page p50 / first page p50",
            "value": round(factor, 3),
            "target": f"<= {DEEP_MAX_FACTOR:.2f}",
            "pass": factor <= DEEP_MAX_FACTOR,
        },
    ]


def print_report(report: dict[str, Any]) -> None:
    print()
    print(
        f"{report['cases']:,} cases ({report['visible_cases']:,} visible to the officer), {report['events']:,} events"
    )
    print(f"{report['database']}; {report['transport']}; {report['machine']['cpus']} CPUs")
    print(f"{report['requests']} timed requests per scenario after {report['warmup']} warm-up, interleaved")
    print()
    width = max(26, *(len(row["label"]) + 2 for row in report["scenarios"].values()))
    header = f"{'scenario':<{width}}{'p50 ms':>9}{'p95 ms':>9}{'req/s':>9}{'cpu p50':>9}{'queries':>9}  request"
    print(header)
    print("-" * (len(header) + 40))
    for row in report["scenarios"].values():
        cpu = "-" if row["cpu_p50_ms"] is None else f"{row['cpu_p50_ms']:.2f}"
        print(
            f"{row['label']:<{width}}{row['p50_ms']:>9.2f}{row['p95_ms']:>9.2f}{row['rps']:>9.1f}{cpu:>9}"
            f"{row['queries']:>9}  {row['request']}"
        )
    print()
    for target in report["targets"]:
        verdict = "PASS" if target["pass"] else "FAIL"
        print(f"{verdict}  {target['name']}: {target['value']:.2f} (target {target['target']})")
    print()


def profile(scenarios: list[Scenario], transport: Transport, n: int) -> None:
    """cProfile n requests of each GET scenario; the top of each goes to bench/results/."""
    for scenario in scenarios:
        if scenario.method != "GET":
            continue
        profiler = cProfile.Profile()
        with scenario.setup():
            profiler.enable()
            for _ in range(n):
                scenario.once(transport)
            profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(45)
        path = RESULTS / f"profile-{scenario.key}.txt"
        path.write_text(out.getvalue())
        log(f"profile: {path.relative_to(ROOT)}")


def command_line() -> str:
    words = [".venv/bin/python", "bench/run.py", *map(shlex.quote, sys.argv[1:])]
    if os.environ.get("DATABASE_URL"):
        words.insert(0, f"DATABASE_URL={shlex.quote(os.environ['DATABASE_URL'])}")
    return " ".join(words)


def log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
