"""`huifang letters render`'s work: the branch's letter cases of the day → their letters → one PDF. Reads only:
printing a letter changes nothing (the case stays open until the signed receipt comes back)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from flows.library import FlowLibrary
from flows.vocab import CaseType
from kit.actor import Actor
from kit.settings import Settings
from letters.batch import letter_cases
from letters.content import build_letter
from letters.pdf import write_pdf


@dataclass(frozen=True)
class Rendered:
    out: Path | None  # None: no letter that day, no file written
    policies: list[str]
    pages: int

    def to_json(self) -> dict[str, Any]:
        return {"out": str(self.out) if self.out else None, "letters": len(self.policies),
                "policies": self.policies}


def render_day(session: Session, actor: Actor, *, branch_code: str, day: date, out: Path, library: FlowLibrary,
               settings: Settings, visits: bool = False) -> Rendered:
    """One PDF of every letter the branch sends for `day` (letters.batch), each dated that day; `visits`: the
    forms of the day's in-person visits instead."""
    items = letter_cases(session, actor, branch_code, day,
                         CaseType.IN_PERSON_VISIT_CASE if visits else CaseType.LETTER_CASE)
    if not items:
        return Rendered(None, [], 0)
    letters = [build_letter(item, library, settings.questionnaire, day) for item in items]
    pages = write_pdf(letters, out, settings=settings.letters, hotline=settings.questionnaire.hotline, dated=day)
    return Rendered(out, [letter.policy_no for letter in letters], pages)
