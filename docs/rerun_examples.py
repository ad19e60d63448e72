"""Rerun the recorded examples of docs/api.md, README.md and docs/partners.md; report the drifted ones.

    .venv/bin/python docs/rerun_examples.py           # report differing blocks; exit 1 if any
    .venv/bin/python docs/rerun_examples.py --doc docs/partners.md   # only that guide (repeatable)
    .venv/bin/python docs/rerun_examples.py --write   # also replace the drifted outputs in the files
    .venv/bin/python docs/rerun_examples.py --record  # replace every output: the guides as one new run
    .venv/bin/python docs/rerun_examples.py --keep    # leave the scratch directories behind

Each ```sh block is paired with the fenced block(s) that follow it directly, its recorded
output. The guides say which data each part ran on: most of api.md ran in one session on
freshly seeded data (the walk-through first, then the sections before it, then the rest),
while its budget section, its retry and version sections and the README's examples each
ran on a database of their own. So each run below gets a fresh SQLite database, seeded
with `seed_demo`, served by `manage.py runserver 127.0.0.1:8000` (the address the guides
use; it must be free) with DJANGO_DEBUG=0, and one bash session in a scratch directory
that runs the run's blocks in order, so that variables and functions carry over. The
scratch directory links `manage.py` and `.venv`, so a block may run a command on the
server's side as a reader would from the project's root.

docs/partners.md runs as its "How this guide was made" says it was recorded: one session on
a fresh database, served on 127.0.0.1:8791 with WEBHOOKS_ALLOW_HTTP=1 and
WEBHOOKS_ALLOWED_NETWORKS=127.0.0.0/8, a second server on the same database without them on
:8794 (`API2`), and a recording receiver on :8792, run in this process, that saves every
request as received/NNN.json ({"path", "headers", "body"}) and answers what the run tells it
(204; 503 with Retry-After: 20, 410 or 500 where the guide says the portal's receiver did).
The guide's own receiver.py and check.py are written from its ```python blocks; webhooks are
sent by `python manage.py deliver_webhooks` (the project's Python first on PATH), as the
guide's commands say. Its blocks run in the order the guide's notes give (see PARTNERS).

Before comparing, both sides are normalised: UUIDs, 64-hex tokens and digests, timestamps,
dates, the HTTP Date header, the year of receipt codes and programme codes, cursors, the
Python version in `Server:` and the seconds of a throttle; for partners.md also API keys and
their prefixes, signing secrets, signatures, `msg_` ids, webhook timestamps, the random end of
a partner's username, attempt durations, the time of day of the partner's trail and the
second recording's ports (8795-8798 read as 8791-8794). A recorded line may elide with
` ... `, which matches anything. With --write (drifted outputs) or --record (all of them),
the raw new output replaces the recorded one; several fenced blocks after one command are
cut by their recorded lengths, and what cannot be cut so is left for editing by hand.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
HOST, PORT = "127.0.0.1", 8000
PASSWORD = "demo-Pass-2026"
BLOCK_TIMEOUT = 180

WALK = "Walk-through: one case from draft to disbursed"


@dataclass
class Block:
    path: Path
    section: str  # the `##` heading
    subsection: str  # the `###` heading, or ""
    code: str
    line: int  # first line of the code, 1-based
    outputs: list[tuple[int, int, str]] = field(default_factory=list)  # (first, last line, text)


Pattern = tuple["re.Pattern[str]", "str | Callable[[re.Match[str]], str]"]


@dataclass
class Hook:
    """Something done around the block whose code contains `contains` (exactly one block)."""

    contains: str  # as in Run.moves
    answer: tuple[int, dict[str, str]] | None = None  # before it: what the portal's receiver answers
    then: str = ""  # after it: shell code run in the session, output not compared


@dataclass
class Run:
    name: str
    path: Path
    checked: list[str]  # `##` sections, run in this order, outputs compared
    # (section, subsection, text the block contains or "") run first, outputs not compared
    setup: list[tuple[str, str, str]] = field(default_factory=list)
    port: int = PORT
    server_env: dict[str, str] = field(default_factory=dict)  # on top of the scratch database's
    second_port: int | None = None  # a second server on the same database, without server_env
    receiver_port: int | None = None  # the recording receiver
    # (block, block it runs right after): the guide's notes on order. A block is named by
    # text its code contains, or by "subsection::text" (subsection as it starts)
    moves: list[tuple[str, str]] = field(default_factory=list)
    hooks: list[Hook] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # file name: how its ```python block starts
    patterns: list[Pattern] = field(default_factory=list)  # normalised too, after PATTERNS
    project_python: bool = False  # `python` is the project's .venv/bin/python

    @property
    def ports(self) -> list[int]:
        return [p for p in (self.port, self.second_port, self.receiver_port) if p is not None]


API_MD = ROOT / "docs" / "api.md"
README = ROOT / "README.md"
PARTNERS_MD = ROOT / "docs" / "partners.md"

RUNS = [
    # "The sections before the walk-through ... were run after it"; the rules and documents
    # sections last, on the same data.
    Run(
        "api.md: the walk-through, then the reference sections",
        API_MD,
        checked=[
            "Basics",
            WALK,
            "Authentication",
            "Errors",
            "Pagination",
            "Listing and filtering cases",
            "Language",
            "Rules, costs and eligibility",
            "Documents, checklists and the IP office",
            "Deadlines and the working-day calendar",
        ],
    ),
    # "Against fresh demo data (before the walk-through)"
    Run(
        "api.md: the programme's budget",
        API_MD,
        checked=["The programme's budget"],
        setup=[("Basics", "", ""), (WALK, "1. Tokens", "")],
    ),
    # "ran on a freshly seeded demo server, with the walk-through's $APPLICANT, $OFFICER,
    # $ENTERPRISE, $PROGRAMME and $TODAY" (and its mkpdf helper)
    Run(
        "api.md: safe retries and concurrency",
        API_MD,
        checked=["Safe retries: Idempotency-Key", "Concurrency: ETag and If-Match"],
        setup=[
            ("Basics", "", ""),
            (WALK, "1. Tokens", ""),
            (WALK, "2. Who am I", ""),
            (WALK, "3. The programme", ""),
            (WALK, "4. A draft", "TODAY="),
            (WALK, "9. Upload", "mkpdf() {"),
        ],
    ),
    Run("README.md: try it", README, checked=["Try it"]),
]

PORTAL_SUB = "/hooks/portal"
PARTNERS = Run(
    "partners.md: the whole guide, in the order it ran",
    PARTNERS_MD,
    checked=[
        "Credentials",
        "Getting set up",
        "Calling the API with a key",
        "Errors a partner meets",
        "Safe retries and concurrency",
        "Webhooks",
        "Rotating a key, as it was run",
    ],
    port=8791,
    server_env={"WEBHOOKS_ALLOW_HTTP": "1", "WEBHOOKS_ALLOWED_NETWORKS": "127.0.0.0/8"},
    second_port=8794,
    receiver_port=8792,
    moves=[
        # the shell variables and the keys come first; `GET /me/` shows the agent's key
        ('"$API/me/" -H "$H_LANG" -H "Authorization: Bearer $AGENT_KEY" | jq .', "payread.json paykey.json"),
        # "(This ran after the calls of the next two sections ...)"
        ("4. Withdrawing an authorisation::-X DELETE", "occurred_on=2099-01-01"),
        # the If-Match example: "Right after the filing ..., made on version 4"
        ("4-2026-01878", "> filing.txt"),
        # "The second command ran after the retries of the next section."
        ('"$API/cases/$PATENT/filing/"', '"Idempotency-Key: $PAY_IDEM" -d @payment.json | jq .'),
        # "(These two ran right after the first messages were sent, ...)"
        ("Watching deliveries::deliveries/?page_size=2", "The first messages::deliver_webhooks"),
        # the trail: "Read at the end of this run"
        ('"$API/partners/$AGENT_ID/events/?page_size=100"', '"$API/cases/$SUBMITTED/resubmit/"'),
    ],
    hooks=[
        # "The portal's receiver was made to answer 503 with Retry-After: 20."
        Hook('"$API/cases/$SUBMITTED/receive/"', answer=(503, {"Retry-After": "20"})),
        Hook("[.webhook_id, .event_type, .attempt_count, .next_attempt_at] | @tsv", answer=(204, {})),
        Hook('WEBHOOK_SECRETS="$WHSEC" python3 receiver.py 8793', then="RERUN_RECEIVER=$!"),
        # "Its receiver had restarted meanwhile, so it did not know the message yet"
        Hook(
            '"$API/cases/$TM/recommend/"',
            then=(
                'kill "$RERUN_RECEIVER"; wait "$RERUN_RECEIVER" 2>/dev/null\n'
                'WEBHOOK_SECRETS="$WHSEC" python3 receiver.py 8793 >> receiver.log & RERUN_RECEIVER=$!\n'
                "for i in $(seq 50); do (: </dev/tcp/127.0.0.1/8793) 2>/dev/null && break; sleep 0.1; done"
            ),
        ),
        # "The portal's receiver answered 410 to a ping", then was fixed; then "500 to two pings"
        Hook("jq '{url, is_active, disabled_reason, disabled_at, consecutive_failures}'", answer=(410, {})),
        Hook('"$API/cases/$SUBMITTED/request-supplement/"', answer=(204, {})),
        Hook("for i in 1 2; do", answer=(500, {})),
        Hook("FD=$(", answer=(204, {})),
    ],
    files={
        "receiver.py": '"""A webhook receiver with the standard library only',
        "check.py": '"""Verify one saved delivery both ways',
    },
    patterns=[
        (re.compile(r"ipk_[0-9a-f]{12}_[A-Za-z0-9_-]+"), "ipk_<key>"),
        (re.compile(r"\b[0-9a-f]{12}\b"), "<prefix>"),
        (re.compile(r"whsec_[A-Za-z0-9+/=]+"), "whsec_<secret>"),
        (re.compile(r"v1,[A-Za-z0-9+/=]+"), "v1,<signature>"),
        (re.compile(r"msg_[0-9a-f]{32}"), "msg_<id>"),
        (re.compile(r"(?m)^(webhook-timestamp: )\d+$"), r"\1<seconds>"),
        (re.compile(r"(partner-[a-z0-9-]+)-[0-9a-f]{6}\b"), r"\1-<hex6>"),
        (re.compile(r'"duration_ms": ?\d+'), '"duration_ms": <n>'),
        (re.compile(r"(?m)^\d\d:\d\d:\d\d\t"), "<time>\t"),
        (re.compile(r"127\.0\.0\.1:879([5-8])"), lambda m: f"127.0.0.1:879{int(m.group(1)) - 4}"),
    ],
    project_python=True,
)
RUNS.append(PARTNERS)

FENCE = re.compile(r"^(\s*)```(\S*)\s*$")


def parse(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").split("\n")
    blocks: list[Block] = []
    section = subsection = ""
    i = 0
    last_end = -2  # line index of the closing fence of the previous block
    last: Block | None = None
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            section, subsection = line[3:].strip(), ""
        elif line.startswith("### "):
            subsection = line[4:].strip()
        match = FENCE.match(line)
        if not match:
            i += 1
            continue
        indent, lang = match.group(1), match.group(2)
        j = i + 1
        while j < len(lines) and not (lines[j].strip() == "```" and lines[j].startswith(indent)):
            j += 1
        body = "\n".join(text[len(indent) :] if text.startswith(indent) else text for text in lines[i + 1 : j])
        if lang == "sh":
            last = Block(path, section, subsection, body, i + 2)
            blocks.append(last)
        elif last is not None and i == last_end + 1:
            last.outputs.append((i + 2, j, body))
        else:
            last = None
        last_end = j
        i = j + 1
    return blocks


# --- normalising ----------------------------------------------------------------------------

PATTERNS = [
    (re.compile(r"\r\n"), "\n"),
    (re.compile(r"(?m)^Date: .*GMT$"), "Date: <http-date>"),
    (re.compile(r"CPython/[\d.]+"), "CPython/<version>"),
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uuid>"),
    (re.compile(r"\b[0-9a-f]{64}\b"), "<hex64>"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?"), "<timestamp>"),
    (re.compile(r"\b\d{4}-\d\d-\d\d\b"), "<date>"),
    (re.compile(r"\b(SHTT|shtt)-\d{4}\b"), r"\1-<year>"),
    (re.compile(r"cursor=[A-Za-z0-9%_=-]+"), "cursor=<cursor>"),
    (re.compile(r"(?m)^Retry-After: \d+$"), "Retry-After: <n>"),
    (re.compile(r"available in \d+ seconds"), "available in <n> seconds"),
]


def normalise(text: str, extra: list[Pattern] | None = None) -> str:
    for pattern, replacement in PATTERNS + (extra or []):
        text = pattern.sub(replacement, text)
    return "\n".join(line.rstrip() for line in text.strip("\n").split("\n"))


def matches(recorded: str, actual: str, extra: list[Pattern] | None = None) -> bool:
    want, got = normalise(recorded, extra).split("\n"), normalise(actual, extra).split("\n")
    if len(want) != len(got):
        return False
    for w, g in zip(want, got, strict=True):
        if " ... " in w:
            pattern = ".*".join(re.escape(part) for part in w.split(" ... "))
            if not re.fullmatch(pattern, g):
                return False
        elif w != g:
            return False
    return True


# --- the server and the shell ---------------------------------------------------------------


def port_free(port: int = PORT) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex((HOST, port)) != 0


class Server:
    def __init__(self, scratch: Path, port: int = PORT, extra: dict[str, str] | None = None, seed: bool = True) -> None:
        self.env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{scratch / 'db.sqlite3'}",
            "DOCUMENTS_ROOT": str(scratch / "documents"),
            "DJANGO_DEBUG": "0",
            "CELERY_BROKER_URL": "",
            **(extra or {}),
        }
        self.log = open(scratch / f"server-{port}.log" if port != PORT else scratch / "server.log", "wb")  # noqa: SIM115
        for args in (["migrate", "--noinput"], ["seed_demo", "--password", PASSWORD]) if seed else ():
            command = [str(PYTHON), "manage.py", *args]
            subprocess.run(command, cwd=ROOT, env=self.env, stdout=self.log, stderr=self.log, check=True)  # noqa: S603
        self.process = subprocess.Popen(  # noqa: S603
            [str(PYTHON), "manage.py", "runserver", f"{HOST}:{port}", "--noreload"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=self.log,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://{HOST}:{port}/api/v1/health/", timeout=2)
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the server did not start; see {self.log.name}") from None
                time.sleep(0.3)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


class Receiver:
    """The recording receiver of partners.md: saves every request as received/NNN.json
    ({"path", "headers", "body"}) in the session's directory and answers 204, or, for the
    portal's subscription, what the run last told it."""

    def __init__(self, directory: Path, port: int) -> None:
        directory.mkdir()
        self.answer: tuple[int, dict[str, str]] = (204, {})
        count = [0]
        lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    count[0] += 1
                    saved = {"path": self.path, "headers": dict(self.headers.items()), "body": body.decode()}
                    (directory / f"{count[0]:03d}.json").write_text(json.dumps(saved, ensure_ascii=False))
                    status, headers = receiver.answer if self.path.startswith(PORTAL_SUB) else (204, {})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if status != 204:
                    self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((HOST, port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Shell:
    """One bash session: what a block defines stays defined for the next."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.errors = workdir / ".stderr"
        self.process = subprocess.Popen(  # noqa: S603
            [shutil.which("bash") or "/bin/bash", "--noprofile", "--norc"],
            cwd=workdir,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.count = 0

    def run(self, code: str) -> tuple[str, str]:
        self.count += 1
        script = self.workdir / f".block-{self.count}.sh"
        script.write_text(code + "\n", encoding="utf-8")
        marker = f"__BLOCK_{self.count}_DONE__"
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.errors.write_text("")
        self.process.stdin.write(f'{{ . "{script}"; }} </dev/null 2>"{self.errors}"; printf "{marker}"\n'.encode())
        self.process.stdin.flush()
        out = b""
        deadline = time.monotonic() + BLOCK_TIMEOUT
        fd = self.process.stdout.fileno()
        while marker.encode() not in out:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise SystemExit(f"a block ran more than {BLOCK_TIMEOUT} s:\n{code}")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise SystemExit(f"the shell ended during:\n{code}")
            out += chunk
        text = out.decode("utf-8", "replace").replace(marker, "")
        return text, self.errors.read_text(encoding="utf-8", errors="replace")

    def close(self) -> None:
        assert self.process.stdin is not None
        if not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        finally:
            # what the blocks left running in the background (the guide's receiver): its group only
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)


# --- running ----------------------------------------------------------------------------------


@dataclass
class Result:
    block: Block
    actual: str
    stderr: str
    same: bool
    patterns: list[Pattern] = field(default_factory=list)


def select_blocks(blocks: list[Block], run: Run) -> tuple[list[Block], list[Block]]:
    setup: list[Block] = []
    for section, subsection, contains in run.setup:
        chosen = [
            b for b in blocks if b.section == section and b.subsection.startswith(subsection) and contains in b.code
        ]
        if not chosen:
            raise SystemExit(f"{run.name}: no block for {section} / {subsection} / {contains!r}")
        setup.extend(chosen)
    checked: list[Block] = []
    for section in run.checked:
        if f"\n## {section}\n" not in run.path.read_text(encoding="utf-8"):
            raise SystemExit(f"{run.name}: no section {section!r} in {run.path.name}")
        checked.extend(b for b in blocks if b.section == section)
    for moved, after in run.moves:
        block = find(checked, moved, run)
        checked.remove(block)
        checked.insert(checked.index(find(checked, after, run)) + 1, block)
    return setup, checked


def find(blocks: list[Block], name: str, run: Run) -> Block:
    """The one block named so (see Run.moves)."""
    subsection, _, text = name.rpartition("::")
    chosen = [b for b in blocks if b.subsection.startswith(subsection) and text in b.code]
    if len(chosen) != 1:
        raise SystemExit(f"{run.name}: {len(chosen)} blocks for {name!r}, not one")
    return chosen[0]


def python_file(path: Path, start: str) -> str:
    """The ```python block of the guide that starts with `start`."""
    for match in re.finditer(r"(?ms)^```python\n(.*?)^```$", path.read_text(encoding="utf-8")):
        if match.group(1).startswith(start):
            return match.group(1)
    raise SystemExit(f"{path.name}: no ```python block starts with {start!r}")


def execute(run: Run, keep: bool) -> list[Result]:
    blocks = parse(run.path)
    setup, checked = select_blocks(blocks, run)
    scratch = Path(tempfile.mkdtemp(prefix="rerun-examples-"))
    work = scratch / "work"
    work.mkdir()
    (work / "manage.py").symlink_to(ROOT / "manage.py")
    (work / ".venv").symlink_to(ROOT / ".venv")
    for name, start in run.files.items():
        (work / name).write_text(python_file(run.path, start), encoding="utf-8")
    hooks = {id(find(checked, hook.contains, run)): hook for hook in run.hooks}
    print(f"== {run.name} ({len(checked)} blocks; scratch {scratch})", flush=True)
    started = time.monotonic()
    stops: list[Callable[[], None]] = []
    results: list[Result] = []
    try:
        server = Server(scratch, run.port, run.server_env)
        stops.append(server.stop)
        if run.second_port is not None:
            stops.append(Server(scratch, run.second_port, seed=False).stop)
        receiver = None
        if run.receiver_port is not None:
            receiver = Receiver(work / "received", run.receiver_port)
            stops.append(receiver.stop)
        env = dict(server.env)
        if run.project_python:
            env["PATH"] = f"{PYTHON.parent}{os.pathsep}{env.get('PATH', '')}"
        shell = Shell(work, env)
        stops.insert(0, shell.close)
        for block in setup:
            shell.run(block.code)
        for block in checked:
            hook = hooks.get(id(block))
            if hook is not None and hook.answer is not None and receiver is not None:
                receiver.answer = hook.answer
            actual, stderr = shell.run(block.code)
            if hook is not None and hook.then:
                shell.run(hook.then)
            recorded = "\n".join(text for _, _, text in block.outputs)
            same = matches(recorded, actual, run.patterns) if block.outputs else True
            results.append(Result(block, actual, stderr, same, run.patterns))
            mark = "ok  " if same else "DIFF"
            where = f"{block.path.name}:{block.line}"
            if not block.outputs:
                mark = "run "
            print(f"  {mark} {where:<16} {block.section[:40]} {block.subsection[:40]}", flush=True)
            if not block.outputs and actual.strip():
                print("       (prints output that is not recorded)", flush=True)
            if stderr.strip() and not (same and block.outputs):  # the failures' and the unchecked blocks'
                print("       stderr: " + stderr.strip().replace("\n", "\n               "), flush=True)
    finally:
        for stop in stops:  # the shell (and what it left running) first, then the servers
            try:
                stop()
            except Exception as exc:  # stop the others all the same
                print(f"   (stopping: {exc!r})", flush=True)
        if not keep:
            shutil.rmtree(scratch, ignore_errors=True)
    print(f"   ({time.monotonic() - started:.0f} s)", flush=True)
    return results


def unified(recorded: str, actual: str, extra: list[Pattern] | None = None) -> str:
    import difflib

    lines = difflib.unified_diff(
        normalise(recorded, extra).split("\n"),
        normalise(actual, extra).split("\n"),
        "recorded",
        "now",
        lineterm="",
        n=1,
    )
    return "\n".join(lines)


def split_like(result: Result) -> list[str] | None:
    """The new output cut into as many fenced blocks as were recorded, by their lengths;
    None when the line counts no longer fit."""
    text = result.actual.replace("\r\n", "\n").rstrip("\n")
    outputs = result.block.outputs
    if len(outputs) == 1:
        return [text]
    lines = text.split("\n")
    sizes = [len(body.split("\n")) for _, _, body in outputs]
    if sum(sizes) != len(lines):
        return None
    parts, at = [], 0
    for size in sizes:
        parts.append("\n".join(lines[at : at + size]))
        at += size
    return parts


def write_back(results: list[Result]) -> list[Result]:
    """Replace the recorded outputs of these results by their new output; return the ones
    left for a person (elided with ` ... `, or several fenced blocks that no longer fit)."""
    edits: dict[Path, list[tuple[int, int, str]]] = {}
    left = []
    for result in results:
        parts = split_like(result)
        if parts is None or any(" ... " in body for _, _, body in result.block.outputs):
            left.append(result)
            continue
        for (first, last, _), part in zip(result.block.outputs, parts, strict=True):
            edits.setdefault(result.block.path, []).append((first, last, part))
    for path, changes in edits.items():
        lines = path.read_text(encoding="utf-8").split("\n")
        for first, last, part in sorted(changes, key=lambda change: -change[0]):
            indent = re.match(r"\s*", lines[first - 2]).group(0)  # type: ignore[union-attr]
            lines[first - 1 : last] = [indent + text if text else text for text in part.split("\n")]
        path.write_text("\n".join(lines), encoding="utf-8")
    return left


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="replace drifted outputs in the files")
    parser.add_argument(
        "--record", action="store_true", help="replace every recorded output (new ids and times: one consistent run)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch directories")
    parser.add_argument("--only", help="run only the runs whose name contains this text")
    parser.add_argument(
        "--doc",
        action="append",
        type=Path,
        help="run only the examples of this file (docs/api.md, README.md, docs/partners.md); repeatable",
    )
    args = parser.parse_args()
    docs = {path.resolve() for path in args.doc or []}
    known = {run.path for run in RUNS}
    if docs - known:
        parser.error(f"no examples are rerun for {', '.join(str(path) for path in docs - known)}")
    runs = [run for run in RUNS if (not args.only or args.only in run.name) and (not docs or run.path in docs)]
    taken = sorted({port for run in runs for port in run.ports if not port_free(port)})
    if taken:
        ports = ", ".join(f"{HOST}:{port}" for port in taken)
        print(f"{ports} taken: the guides' examples use them; stop what listens there.", file=sys.stderr)
        return 2
    started = time.monotonic()
    results: list[Result] = []
    for run in runs:
        results.extend(execute(run, args.keep))
    compared = [r for r in results if r.block.outputs]
    drifted = [r for r in compared if not r.same]
    for result in drifted:
        recorded = "\n".join(text for _, _, text in result.block.outputs)
        print(
            f"\n--- {result.block.path.name}:{result.block.line} ({result.block.section} / {result.block.subsection})"
        )
        print(unified(recorded, result.actual, result.patterns))
    print(
        f"\n{len(results)} blocks run, {len(compared)} with a recorded output, "
        f"{len(compared) - len(drifted)} matching, {len(drifted)} differing "
        f"({time.monotonic() - started:.0f} s)."
    )
    for path in sorted({r.block.path for r in results}):
        mine = [r for r in compared if r.block.path == path]
        bad = sum(not r.same for r in mine)
        ran = sum(r.block.path == path for r in results)
        print(f"  {path.name}: {ran} blocks run, {len(mine) - bad} of {len(mine)} outputs matching, {bad} differing")
    rewrite = compared if args.record else drifted if args.write else []
    if rewrite:
        left = write_back(rewrite)
        print(f"rewrote {len(rewrite) - len(left)} outputs", end="")
        if left:
            print(
                "; edit by hand (several fenced blocks): "
                + ", ".join(f"{r.block.path.name}:{r.block.line}" for r in left)
            )
        else:
            print()
    return 1 if drifted else 0


if __name__ == "__main__":
    sys.exit(main())
