"""`runserver` for the demo (`make run`): once the server listens, the last lines printed
are where the docs are and how to sign in, not the server's own banner."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandParser
from django.core.management.commands.runserver import Command as RunserverCommand

DEMO_USERS = ("manager", "officer", "officer2", "applicant", "applicant2")


class Command(RunserverCommand):
    help = "Serve the demo like runserver, then print the docs address and the demo logins."

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--password", required=True, help="The demo users' password (as given to seed_demo).")

    def handle(self, *args: Any, **options: Any) -> None:
        self.demo_password: str = options["password"]
        super().handle(*args, **options)

    def on_bind(self, server_port: int) -> None:
        super().on_bind(server_port)
        # Served on every interface, the demo is still at home at the loopback address.
        addr: str = getattr(self, "addr", "127.0.0.1")  # set by runserver's handle()
        host = f"[{addr}]" if getattr(self, "_raw_ipv6", False) else addr
        if host in ("0", "0.0.0.0", "[::]"):  # noqa: S104 (a comparison, not a bind)
            host = "127.0.0.1"
        base = f"{self.protocol}://{host}:{server_port}"
        body = json.dumps({"username": "applicant", "password": self.demo_password}, ensure_ascii=False)
        self.stdout.write(
            "\n"
            f"  API docs:  {base}/api/v1/docs/   (ReDoc: /api/v1/redoc/)\n"
            f"  Demo logins (password: {self.demo_password}):\n"
            f"    {', '.join(DEMO_USERS)}\n"
            "  Get a token:\n"
            f"    curl -s -X POST {base}/api/v1/auth/token/ -H 'Content-Type: application/json' \\\n"
            f"         -d '{body}'\n"
        )
