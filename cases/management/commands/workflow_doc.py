"""Print docs/workflow.md, generated from cases.workflow.TRANSITIONS.

`make schema` writes it; a test fails when the committed file differs, so the diagram
can never drift from the table.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils import translation

from cases.models import CaseState
from cases.workflow import TRANSITIONS


def render() -> str:
    with translation.override("en"):
        lines = [
            "# The case workflow",
            "",
            "Generated from `cases/workflow.py` by `python manage.py workflow_doc` (`make schema`).",
            "Do not edit by hand: a test compares this file with the table.",
            "",
            "```mermaid",
            "stateDiagram-v2",
            "    [*] --> draft: create",
        ]
        for transition in TRANSITIONS.values():
            for source in sorted(transition.sources):
                target = transition.target_from(CaseState(source))
                lines.append(f"    {source} --> {target}: {transition.action}")
        for final in (CaseState.DISBURSED, CaseState.REJECTED, CaseState.WITHDRAWN, CaseState.CANCELLED):
            lines.append(f"    {final} --> [*]")
        lines += [
            "```",
            "",
            "| action | from | to | who | requires |",
            "|---|---|---|---|---|",
        ]
        for transition in TRANSITIONS.values():
            sources = ", ".join(f"`{s}`" for s in sorted(transition.sources))
            to = f"`{transition.target}`" if transition.target else "(same)"
            requires = str(transition.requires) if transition.requires else ""
            lines.append(f"| `{transition.action}` | {sources} | {to} | {transition.who.value} | {requires} |")
        lines += [
            "",
            "## States",
            "",
            "| key | label (en) | label (vi) |",
            "|---|---|---|",
        ]
        for state in CaseState:
            with translation.override("vi"):
                vi = str(state.label)
            lines.append(f"| `{state.value}` | {state.label} | {vi} |")
        lines += [
            "",
            "## Rules the table enforces",
            "",
            "- A role that can never take an action gets 403; a state the action does not leave from, 409;",
            "  then the case-specific checks (only the assigned officer; four eyes) give 403.",
            "- A case a user cannot see is 404 for every action. Drafts are visible only to the",
            "  enterprise's members.",
            "- Each action is one transaction: a guarded UPDATE (the row must still hold the version",
            "  that was read) and one append-only event. Of two concurrent actions exactly one wins;",
            "  the other gets 409 `concurrent_change` or `transition_not_allowed`.",
            "- Side effects (notifications, webhooks) run only after the transaction commits.",
            "",
        ]
    return "\n".join(lines)


class Command(BaseCommand):
    help = "Print the workflow document (Markdown with a Mermaid state diagram) generated from the table."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(render(), ending="")
