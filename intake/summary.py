"""What an import did: its counts and every rejected row's problems (intake.service fills it chunk by chunk)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from intake.record import RowError


@dataclass
class ImportSummary:
    rows: int = 0
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    excluded: int = 0
    tasks_created: int = 0
    held: int = 0
    holds_added: int = 0
    holds_released: int = 0
    rejected: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    def add(self, chunk: ImportSummary) -> None:
        """Count a committed chunk in (the holds are counted once, at the end of the import)."""
        for name in ("rows", "imported", "updated", "unchanged", "excluded", "tasks_created"):
            setattr(self, name, getattr(self, name) + getattr(chunk, name))
        self.rejected.extend(chunk.rejected)

    @property
    def rejected_rows(self) -> int:
        """Rows rejected (a row with three problems is one row; `rejected` lists every problem)."""
        return len({e.row for e in self.rejected})

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "imported": self.imported,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "excluded": self.excluded,
            "tasks_created": self.tasks_created,
            "held": self.held,
            "holds_added": self.holds_added,
            "holds_released": self.holds_released,
            "rejected": [e.as_dict() for e in self.rejected],
            "rejected_rows": self.rejected_rows,
            "errors": len(self.rejected),
            "ignored_columns": self.ignored_columns,
        }
