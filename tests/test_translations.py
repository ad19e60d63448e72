"""The Vietnamese catalogue is complete and compiled: a message added in English without a
translation would reach Vietnamese users in English."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

PO = Path(__file__).resolve().parent.parent / "locale" / "vi" / "LC_MESSAGES" / "django.po"


def _entries() -> list[tuple[str, str, bool]]:
    entries = []
    for block in PO.read_text().split("\n\n"):
        lines = [line for line in block.splitlines() if not line.startswith("#~")]
        fuzzy = any(line.startswith("#,") and "fuzzy" in line for line in lines)
        text = "\n".join(line for line in lines if not line.startswith("#"))
        match = re.search(r'msgid ((?:".*"\n?)+)msgstr ((?:".*"\n?)+)', text + "\n")
        if match:
            msgid = "".join(re.findall(r'"(.*)"', match.group(1)))
            msgstr = "".join(re.findall(r'"(.*)"', match.group(2)))
            entries.append((msgid, msgstr, fuzzy))
    return entries


def test_every_message_is_translated_and_none_is_fuzzy():
    entries = [e for e in _entries() if e[0]]  # the header has an empty msgid
    assert len(entries) > 250
    assert [msgid for msgid, msgstr, _fuzzy in entries if not msgstr] == []
    assert [msgid for msgid, _msgstr, fuzzy in entries if fuzzy] == []


def test_placeholders_survive_translation():
    for msgid, msgstr, _fuzzy in _entries():
        assert sorted(re.findall(r"%\(\w+\)s|\{\w+(?::\w+)?\}", msgid)) == sorted(
            re.findall(r"%\(\w+\)s|\{\w+(?::\w+)?\}", msgstr)
        ), msgid


def test_compiled_catalogue_matches_the_source():
    """`make messages` compiles the .mo that is committed; a stale one would serve old text."""
    with PO.with_suffix(".mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    for msgid, msgstr, _fuzzy in _entries():
        if msgid:
            assert compiled.gettext(_unescape(msgid)) == _unescape(msgstr), msgid


def _unescape(text: str) -> str:
    """A PO string's C escapes (\\", \\n, \\t, \\\\) as the characters they stand for."""
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), text)
