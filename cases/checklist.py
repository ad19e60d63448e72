"""What the dossier must hold, and what it holds: the documents checklist. Reads only.

The rule names the document kinds required at submission and before payment; a
supplement request may name kinds too (an item that is a document kind). An item is
`satisfied` when the case holds a current document of its kind (for a supplement, one
uploaded after the request), otherwise `missing`, or `requested` while a supplement
request waits for it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cases.models import CaseState, Document, DocumentKind

SUBMISSION = "submission"
PAYMENT = "payment"
SUPPLEMENT = "supplement"
STAGES = (SUBMISSION, SUPPLEMENT, PAYMENT)


@dataclass(frozen=True)
class Item:
    kind: str
    stage: str
    status: str  # satisfied | missing | requested
    documents: list[uuid.UUID]

    @property
    def kind_label(self) -> str:
        return str(DocumentKind(self.kind).label)


@dataclass(frozen=True)
class Checklist:
    items: list[Item]

    def missing(self, *stages: str) -> list[Item]:
        """The items of these stages that the dossier does not satisfy yet."""
        return [item for item in self.items if item.stage in stages and item.status != "satisfied"]

    def complete(self, *stages: str) -> bool:
        return not self.missing(*stages)

    def as_data(self, *stages: str) -> list[dict[str, Any]]:
        return [{"kind": item.kind, "stage": item.stage, "status": item.status} for item in self.missing(*stages)]


@dataclass(frozen=True)
class SupplementRequest:
    at: dt.datetime
    kinds: list[str]


def build(
    *,
    state: str,
    rule: dict[str, Any],
    documents: Iterable[Document],
    supplement: SupplementRequest | None,
) -> Checklist:
    """`rule`: the rule's values (the decided ones once the case is approved);
    `documents`: the case's current documents (no replaced version)."""
    held: dict[str, list[Document]] = {}
    for document in documents:
        held.setdefault(document.kind, []).append(document)
    items: list[Item] = []
    for stage, kinds in (
        (SUBMISSION, rule.get("documents_at_submission", [])),
        (PAYMENT, rule.get("documents_before_payment", [])),
    ):
        for kind in kinds:
            docs = held.get(kind, [])
            items.append(Item(kind, stage, "satisfied" if docs else "missing", [d.pk for d in docs]))
    if supplement is not None:
        waiting = state == CaseState.AWAITING_SUPPLEMENT
        for kind in supplement.kinds:
            docs = [d for d in held.get(kind, []) if d.uploaded_at > supplement.at]
            status = "satisfied" if docs else ("requested" if waiting else "missing")
            items.append(Item(kind, SUPPLEMENT, status, [d.pk for d in docs]))
    return Checklist(items)
