"""Terminal output of ``proofs-check verify`` / ``all`` in the style of pytest: one line per claim
with its levels' verdicts, a failures section (one-line reason and reproduce command each), one
summary line; the full table behind ``--verbose``. Colour only when stdout is a terminal and
``NO_COLOR`` is unset; progress (with an ETA) only when stderr is a terminal.
"""
from __future__ import annotations

import os
import re
import shutil
import sys
import time

from proofs_check.summary import ATTENTION, INITIALS, by_claim, failure_reason, levels_present, summary_line

_CODES = {"green": "32", "red": "31", "yellow": "33", "dim": "2", "bold": "1", "bold red": "1;31"}
_VERDICT_COLOUR = {"holds": "green", "fails": "red", "inconclusive": "yellow", "unchecked": "dim"}
UNCHECKED = "—"


def use_colour(stream=None) -> bool:
    """ANSI colour only on a terminal, never with ``NO_COLOR`` set (https://no-color.org) or TERM=dumb."""
    stream = sys.stdout if stream is None else stream
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (OSError, ValueError):
        return False


class Painter:
    def __init__(self, enabled: bool):
        self.enabled = enabled

    def __call__(self, text: str, style: str | None) -> str:
        if not self.enabled or not style:
            return text
        return f"\x1b[{_CODES[style]}m{text}\x1b[0m"


def _cell(record) -> tuple[str, str | None]:
    """(plain text, style) of one level's cell: ``N:holds``; an unexpected verdict is marked ``!``."""
    initial = INITIALS.get(record.level, record.level[:1].upper())
    shown = UNCHECKED if record.verdict == "unchecked" else record.verdict
    if not record.as_expected:
        return f"{initial}:{shown}!", "bold red"
    return f"{initial}:{shown}", _VERDICT_COLOUR.get(record.verdict)


def claim_lines(results, paint: Painter) -> list[str]:
    """One line per claim: ``claim-id  kind  S:holds N:fails M:— T:—`` (levels that ran), unexpected
    verdicts marked ``!`` with what the registry expected at the end of the line."""
    grouped = by_claim(results)
    if not grouped:
        return []
    present = levels_present(results)
    id_width = max(len(c) for c in grouped)
    kind_width = max(len(next(iter(levels.values())).kind) for levels in grouped.values())
    cells = {claim: {level: _cell(r) for level, r in levels.items()} for claim, levels in grouped.items()}
    cell_width = max(len(text) for row in cells.values() for text, _ in row.values())
    lines = []
    for claim, levels in grouped.items():
        kind = next(iter(levels.values())).kind
        parts = [claim.ljust(id_width), kind.ljust(kind_width)]
        for level in present:
            text, style = cells[claim].get(level, ("", None))
            parts.append(paint(text, style) + " " * (cell_width - len(text)))
        line = "  ".join(parts).rstrip()
        unexpected = [r for r in levels.values() if not r.as_expected]
        if unexpected:
            line += "  " + paint("unexpected: " + ", ".join(f"{r.level} {r.verdict} (expected {r.expected})"
                                                           for r in unexpected), "bold red")
        lines.append(line)
    return lines


def level_lines(results) -> list[str]:
    """For ``verify`` (one claim): one indented line per checked level with its named metric."""
    lines = []
    for record in results:
        if record.verdict == "unchecked":
            continue
        measured = "-" if record.discrepancy is None else f"{record.discrepancy:.3g}"
        tolerance = "-" if record.tolerance is None else f"{record.tolerance:.3g}"
        lines.append(f"    {record.level}: {record.metric or 'discrepancy'} = {measured} (tolerance {tolerance}; "
                     f"{record.rule})")
    return lines


def failures_section(results, paint: Painter) -> list[str]:
    """Each ``fails`` / ``inconclusive`` record (and any verdict the registry did not expect): a header,
    the one-line reason (the deciding case and the rule's detail) and the reproduce command."""
    listed = [r for r in results if r.verdict in ATTENTION or not r.as_expected]
    if not listed:
        return []
    width = shutil.get_terminal_size((120, 24)).columns
    lines = [_rule("failures", width)]
    for record in listed:
        recorded = "as recorded" if record.as_expected else f"UNEXPECTED, expected {record.expected}"
        head = f"{record.claim} [{record.level}] {record.verdict} ({recorded})"
        lines.append(paint(head, "bold red" if not record.as_expected else _VERDICT_COLOUR[record.verdict]))
        if record.verdict in ATTENTION:
            reason = failure_reason(record, width=max(60, width - 4))
        else:
            reason = (f"the registry records {record.expected} here; "
                      + failure_reason(record, width=max(60, width - 60)))
        lines.append(f"    {reason}")
        lines.append(f"    reproduce: {record.reproduce}")
    return lines


def _rule(title: str, width: int) -> str:
    width = min(width, 100)
    side = max(3, (width - len(title) - 2) // 2)
    return f"{'=' * side} {title} {'=' * side}"


def render(results, *, verbose: bool = False, per_level: bool = False, seconds: float | None = None,
           colour: bool = False) -> str:
    """The whole non-JSON output of ``verify`` / ``all``."""
    from proofs_check.results import table
    paint = Painter(colour)
    blocks: list[list[str]] = []
    if verbose:
        details = ["details:"]
        for record in results:
            details.append(f"- {record.claim} [{record.level}, {record.kind}] {record.verdict}: {record.detail}")
            if record.counterexample:
                inside = record.counterexample.get("inside_paper_conditions")
                details.append(f"  counterexample ({'inside' if inside else 'outside'} the stated conditions): "
                               f"{record.counterexample.get('case')}")
        blocks += [table(results).splitlines(), details]
    else:
        lines = []
        for (claim, levels), line in zip(by_claim(results).items(), claim_lines(results, paint)):
            lines.append(line)
            if per_level:
                lines.extend(level_lines(levels.values()))
        blocks.append(lines)
    failures = failures_section(results, paint)
    if failures:
        blocks.append(failures)
    total = summary_line(results, seconds)
    style = "bold red" if any(not r.as_expected for r in results) else "green"
    closing = paint(_rule(total, shutil.get_terminal_size((120, 24)).columns), style)
    return "\n\n".join("\n".join(block) for block in blocks if block) + "\n" + closing


# --------------------------------------------------------------------------- progress

_STEP = re.compile(r"^\[(\d+)/(\d+)\]\s*(.*?)\s*(\.\.\.)?$")


class Progress:
    """A progress callback for :func:`proofs_check.registry.verify`: on a terminal one self-overwriting
    line on stderr ``[i/N] claim level  elapsed 12 s, about 1 min 30 s left``; silent otherwise.
    (No bar library needed; the ETA is the mean time per finished check times the checks left.)"""

    def __init__(self, stream=None, enabled: bool | None = None, clock=time.monotonic):
        self.stream = sys.stderr if stream is None else stream
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            try:
                enabled = bool(isatty and isatty())
            except (OSError, ValueError):
                enabled = False
        self.enabled = enabled
        self.clock = clock
        self.started = None
        self.shown = False

    def __call__(self, message: str) -> None:
        if not self.enabled:
            return
        now = self.clock()
        if self.started is None:
            self.started = now
        match = _STEP.match(message)
        text = message
        if match:
            index, total, what = int(match.group(1)), int(match.group(2)), match.group(3)
            elapsed = now - self.started
            done = index - 1
            eta = f", about {_duration(elapsed / done * (total - done))} left" if done else ""
            text = f"[{index}/{total}] {what}  {_duration(elapsed)} elapsed{eta}"
        width = shutil.get_terminal_size((80, 24)).columns - 1
        if len(text) > width:
            text = text[:max(width - 1, 1)] + "…"
        self.stream.write("\r\x1b[2K" + text)
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.enabled and self.shown:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
            self.shown = False


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
