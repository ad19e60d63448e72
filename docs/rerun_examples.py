"""Rerun the recorded examples of docs/api.md and README.md and report the ones that drifted.

    .venv/bin/python docs/rerun_examples.py           # report differing blocks; exit 1 if any
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

Before comparing, both sides are normalised: UUIDs, 64-hex tokens and digests, timestamps,
dates, the HTTP Date header, the year of receipt codes and programme codes, cursors, the
Python version in `Server:` and the seconds of a throttle. A recorded line may elide with
` ... `, which matches anything. With --write (drifted outputs) or --record (all of them),
the raw new output replaces the recorded one; several fenced blocks after one command are
cut by their recorded lengths, and what cannot be cut so is left for editing by hand.
"""

from __future__ import annotations

import argparse
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
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


@dataclass
class Run:
    name: str
    path: Path
    checked: list[str]  # `##` sections, run in this order, outputs compared
    # (section, subsection, text the block contains or "") run first, outputs not compared
    setup: list[tuple[str, str, str]] = field(default_factory=list)


API_MD = ROOT / "docs" / "api.md"
README = ROOT / "README.md"

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


def normalise(text: str) -> str:
    for pattern, replacement in PATTERNS:
        text = pattern.sub(replacement, text)
    return "\n".join(line.rstrip() for line in text.strip("\n").split("\n"))


def matches(recorded: str, actual: str) -> bool:
    want, got = normalise(recorded).split("\n"), normalise(actual).split("\n")
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


def port_free() -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex((HOST, PORT)) != 0


class Server:
    def __init__(self, scratch: Path) -> None:
        self.env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{scratch / 'db.sqlite3'}",
            "DOCUMENTS_ROOT": str(scratch / "documents"),
            "DJANGO_DEBUG": "0",
            "CELERY_BROKER_URL": "",
        }
        self.log = open(scratch / "server.log", "wb")  # noqa: SIM115
        for args in (["migrate", "--noinput"], ["seed_demo", "--password", PASSWORD]):
            command = [str(PYTHON), "manage.py", *args]
            subprocess.run(command, cwd=ROOT, env=self.env, stdout=self.log, stderr=self.log, check=True)  # noqa: S603
        self.process = subprocess.Popen(  # noqa: S603
            [str(PYTHON), "manage.py", "runserver", f"{HOST}:{PORT}", "--noreload"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=self.log,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://{HOST}:{PORT}/api/v1/health/", timeout=2)
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
        self.process.stdin.close()
        self.process.wait(timeout=10)


# --- running ----------------------------------------------------------------------------------


@dataclass
class Result:
    block: Block
    actual: str
    stderr: str
    same: bool


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
    return setup, checked


def execute(run: Run, keep: bool) -> list[Result]:
    blocks = parse(run.path)
    setup, checked = select_blocks(blocks, run)
    scratch = Path(tempfile.mkdtemp(prefix="rerun-examples-"))
    work = scratch / "work"
    work.mkdir()
    (work / "manage.py").symlink_to(ROOT / "manage.py")
    (work / ".venv").symlink_to(ROOT / ".venv")
    print(f"== {run.name} ({len(checked)} blocks; scratch {scratch})", flush=True)
    server = Server(scratch)
    results: list[Result] = []
    try:
        shell = Shell(work, server.env)
        for block in setup:
            shell.run(block.code)
        for block in checked:
            actual, stderr = shell.run(block.code)
            recorded = "\n".join(text for _, _, text in block.outputs)
            same = matches(recorded, actual) if block.outputs else True
            results.append(Result(block, actual, stderr, same))
            mark = "ok  " if same else "DIFF"
            where = f"{block.path.name}:{block.line}"
            if not block.outputs:
                mark = "run "
            print(f"  {mark} {where:<16} {block.section[:40]} {block.subsection[:40]}", flush=True)
            if not block.outputs and actual.strip():
                print("       (prints output that is not recorded)", flush=True)
            if stderr.strip():
                print("       stderr: " + stderr.strip().replace("\n", "\n               "), flush=True)
        shell.close()
    finally:
        server.stop()
        if not keep:
            shutil.rmtree(scratch, ignore_errors=True)
    return results


def unified(recorded: str, actual: str) -> str:
    import difflib

    lines = difflib.unified_diff(
        normalise(recorded).split("\n"), normalise(actual).split("\n"), "recorded", "now", lineterm="", n=1
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
    args = parser.parse_args()
    if not port_free():
        print(f"{HOST}:{PORT} is taken: the guides' examples use it; stop what listens there.", file=sys.stderr)
        return 2
    results: list[Result] = []
    for run in RUNS:
        if args.only and args.only not in run.name:
            continue
        results.extend(execute(run, args.keep))
    compared = [r for r in results if r.block.outputs]
    drifted = [r for r in compared if not r.same]
    for result in drifted:
        recorded = "\n".join(text for _, _, text in result.block.outputs)
        print(
            f"\n--- {result.block.path.name}:{result.block.line} ({result.block.section} / {result.block.subsection})"
        )
        print(unified(recorded, result.actual))
    print(
        f"\n{len(results)} blocks run, {len(compared)} with a recorded output, "
        f"{len(compared) - len(drifted)} matching, {len(drifted)} differing."
    )
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
