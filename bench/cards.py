"""Figure 6: model-card validation per card, warm (the validator built once, as in the server).

modelgit: ``modelgit.schema.check_card(README bytes)``: front-matter extraction,
guarded YAML, JSON Schema validation and (for broken cards) the worded errors with lines.
Baseline: the least any validator must do: split the front matter, ``yaml.safe_load`` with
libyaml and ``is_valid`` of a prebuilt jsonschema validator of the same schema.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from bench.content import CARD
from bench.harness import REPO_ROOT, Ctx, Row, fmt_ms, fmt_ratio, median, na, percentile

GOAL_MS = 5.0
CARDS_DIR = REPO_ROOT / "tests" / "schema" / "cards"


def _cards() -> dict[str, bytes]:
    cards: dict[str, bytes] = {}
    if CARDS_DIR.is_dir():
        for path in sorted(CARDS_DIR.glob("*.md")):
            cards[path.stem] = path.read_bytes()
    if "typical" not in cards:
        cards["typical"] = CARD.encode()
    return cards


def _baseline() -> Callable[[bytes], bool] | None:
    try:
        import yaml
        from jsonschema import validators

        schema_path = Path(__import__("modelgit.schema", fromlist=["x"]).__file__).parent \
            / "model-card.schema.json"
        schema = json.loads(schema_path.read_text())
    except Exception:
        return None
    validator = validators.validator_for(schema)(schema)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    def check(content: bytes) -> bool:
        text = content.decode("utf-8")
        if not text.startswith("---"):
            return True
        end = text.find("\n---", 3)
        data = yaml.load(text[3:end], Loader=loader)
        return bool(validator.is_valid(data))

    return check


def _time(fn: Callable[[bytes], object], content: bytes, n: int) -> list[float]:
    fn(content)  # warm
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn(content)
        out.append(time.perf_counter() - t0)
    return out


def run(ctx: Ctx) -> list[Row]:
    figure = "card validation, typical card"
    try:
        from modelgit.schema import check_card
    except ImportError:
        return [na(figure, goal="< 5 ms warm")]
    n = ctx.reps(full=500, quick=150, smoke=20)
    cards = _cards()
    per_card = {name: median(_time(check_card, body, n)) for name, body in cards.items()}
    typical = _time(check_card, cards["typical"], n)
    base_fn = _baseline()
    p50 = median(typical)
    worst = max(per_card, key=lambda k: per_card[k])
    notes = [f"{n} checks per card after one warm-up; typical card"
             f" ({len(cards['typical'])} bytes): p50 {fmt_ms(p50)},"
             f" p99 {fmt_ms(percentile(typical, 99))}",
             f"slowest of {len(cards)} cards (tests/schema/cards, valid and broken):"
             f" {worst} at {fmt_ms(per_card[worst])} (p50)",
             "per card p50: " + ", ".join(f"{k} {fmt_ms(v)}" for k, v in per_card.items())]
    row = Row(figure, ours=fmt_ms(p50), goal="< 5 ms warm", met=p50 * 1000 < GOAL_MS,
              notes=notes)
    if base_fn is not None:
        base = median(_time(base_fn, cards["typical"], n))
        row.base = f"{fmt_ms(base)} (yaml + jsonschema)"
        row.ratio = fmt_ratio(p50 / base)
        notes.append("baseline: front-matter split, yaml.load(CSafeLoader), is_valid() of a"
                     " prebuilt validator of the same schema (no line numbers, no messages)")
    return [row]
