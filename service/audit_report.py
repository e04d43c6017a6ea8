"""`referee audit`'s report: one line per finding for people (stderr) and for machines (JSONL),
and the totals.

An item counts once, by its worst finding: with problems, else could not be checked (only
`could_not_check` findings), else clean (something was checked and nothing was found), else
nothing to check (a valid item without a `math` or `code` scorer). Left out: colours and
grouping a finding's repeats across items (each line is reported where it is).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence

from referee.service.audit_checks import Finding, Reason, quoted


def render_finding(finding: Finding) -> str:
    parts = [f"line {finding.line}"]
    if finding.id is not None:
        parts.append(f"id={finding.id}")
    if finding.scorer is not None:
        parts.append(finding.scorer)
    parts.append(finding.reason.value)
    if finding.probe is not None:
        parts.append(f"probe={finding.probe}")
    if finding.form is not None:
        parts.append(f"form={quoted(finding.form)}")
    if finding.verdict is not None:
        parts.append(f"verdict={finding.verdict}")
    if finding.detail is not None:
        invalid = finding.reason is Reason.INVALID_ITEM
        parts.append(finding.detail if invalid else f"({finding.detail})")
    return "  ".join(parts)


def finding_json(finding: Finding) -> str:
    return json.dumps(finding.to_json_dict(), ensure_ascii=False)


class Totals:
    """Counts over the items and findings of one audit."""

    def __init__(self) -> None:
        self.items = 0
        self.clean = 0
        self.with_problems = 0
        self.could_not_check = 0
        self.nothing_to_check = 0
        self.reasons: Counter[Reason] = Counter()

    def add(self, findings: Sequence[Finding], checked: bool) -> None:
        """One item's findings; `checked`: whether it had anything to check."""
        self.items += 1
        self.reasons.update(finding.reason for finding in findings)
        if any(finding.is_problem for finding in findings):
            self.with_problems += 1
        elif findings:
            self.could_not_check += 1
        elif checked:
            self.clean += 1
        else:
            self.nothing_to_check += 1

    @property
    def problems(self) -> int:
        return sum(n for reason, n in self.reasons.items() if reason is not Reason.COULD_NOT_CHECK)

    def render(self, elapsed_s: float) -> str:
        lines = []
        if self.reasons:
            lines.append("findings by reason:")
            width = max(len(reason.value) for reason in self.reasons)
            for reason in Reason:
                if self.reasons[reason]:
                    note = " (not a dataset problem)" if reason is Reason.COULD_NOT_CHECK else ""
                    lines.append(f"  {reason.value:<{width}}  {self.reasons[reason]}{note}")
        lines.append(
            f"{self.items} items in {elapsed_s:.1f}s: {self.clean} clean, "
            f"{self.with_problems} with problems, {self.could_not_check} could not be checked, "
            f"{self.nothing_to_check} with nothing to check"
        )
        return "\n".join(lines)
