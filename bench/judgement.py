"""The judges' speed (issue 17): the arrears cause classifier over 100,000 cases, and the compliance
check of one letter.

1. **Classifier.** Writes a case file of N cases (default 100,000) by cycling through the labelled
   development cases (``tests/corpus/arrears_{dev,dev2,probe}.jsonl``) and
   ``../shared/cases/public.jsonl`` when present (each copy with its own id; the held-out corpus is
   never read), then times ``feesvc classify FILE.jsonl`` end to end in a
   child process (reading, classifying, printing JSON) and, in this process, ``classify`` alone
   over the same records. Target: 100,000 cases < 60 s.
2. **Compliance check of one letter.** Renders every letter kind in every locale (realistic
   contexts: 6 months of service fee and 2 of parking, late fees) and times ``check_html`` on each
   with the sentence cache emptied first (cold: every sentence judged, the worst case) and warm (the
   cache as a reminder run has it). Target: < 20 ms a letter.

```
.venv/bin/python bench/judgement.py                  # both, 100,000 cases
.venv/bin/python bench/judgement.py --cases 10000     # a quick look
.venv/bin/python bench/judgement.py --json            # figures as JSON on stdout
```
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from feesvc.arrears.classifier import case_facts_from_record, classify  # noqa: E402
from feesvc.letters import compliance  # noqa: E402
from feesvc.letters.content import (  # noqa: E402
    BELIEFS,
    LetterContext,
    PeriodLine,
    demand_deadline,
    render_letter_html,
)
from feesvc.letters.kinds import LetterKind  # noqa: E402

CASE_SOURCES = (
    *(REPO / f"tests/corpus/arrears_{part}.jsonl" for part in ("dev", "dev2", "probe")),
    REPO.parent / "shared/cases/public.jsonl",
)
LOCALES = ("zh_CN", "zh_TW", "en")
ISSUED = date(2026, 11, 20)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def case_records() -> list[dict[str, Any]]:
    records = []
    for path in CASE_SOURCES:
        if path.exists():
            records += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not records:
        raise SystemExit("no case file found (tests/corpus/arrears_dev.jsonl, ../shared/cases/public.jsonl)")
    return records


def write_cases(path: Path, count: int) -> list[dict[str, Any]]:
    """``count`` cases cycling through the sources, each with a unique id, the answer key removed."""
    sources = case_records()
    written = []
    with path.open("w", encoding="utf-8") as out:
        for index in range(count):
            record = {k: v for k, v in sources[index % len(sources)].items() if k not in ("expected", "why")}
            record["id"] = f"b{index:06d}"
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            written.append(record)
    return written


def bench_classifier(count: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cases.jsonl"
        records = write_cases(path, count)
        log(f"classifier: {count:,} cases written ({path.stat().st_size / 2**20:.1f} MiB)")
        started = time.perf_counter()
        before = os.times()
        done = subprocess.run(
            [str(Path(sys.executable).parent / "feesvc"), "classify", str(path)],
            cwd=REPO,
            capture_output=True,
            check=False,
        )
        cli_wall = time.perf_counter() - started
        after = os.times()
        cli_cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
        lines = done.stdout.count(b"\n")
        if done.returncode != 0 or lines != count:
            raise SystemExit(f"feesvc classify failed ({done.returncode}, {lines} lines): {done.stderr[-500:]!r}")
    log(f"  feesvc classify: {cli_wall:.1f} s wall, {cli_cpu:.1f} s CPU, {count / cli_wall:,.0f} cases/s")
    log(f"  load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (other sessions' work stretches wall time)")
    started, cpu = time.perf_counter(), time.process_time()
    categories: dict[str, int] = {}
    for record in records:
        category = classify(case_facts_from_record(record)).category.value
        categories[category] = categories.get(category, 0) + 1
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    log(f"  classify() in process: {wall:.1f} s wall, {cpu:.1f} s CPU, {count / wall:,.0f} cases/s")
    return {
        "cases": count,
        "cli_wall_s": round(cli_wall, 2),
        "cli_cpu_s": round(cli_cpu, 2),
        "in_process_wall_s": round(wall, 2),
        "in_process_cpu_s": round(cpu, 2),
        "categories": categories,
        "target_met": cli_wall < 60,
    }


def letter(kind: LetterKind, locale: str, belief: str | None = None) -> LetterContext:
    service = {"zh_CN": "物业服务费", "zh_TW": "物業管理費", "en": "Property service fee"}[locale]
    parking = {"zh_CN": "车位管理费", "zh_TW": "車位管理費", "en": "Parking management fee"}[locale]
    periods = tuple(PeriodLine(f"2026-{m:02d}", service, 26850, (9 - m) * 2417) for m in range(3, 9))
    periods += (PeriodLine("2026-07", parking, 15000, 1800), PeriodLine("2026-08", parking, 15000, 900))
    fields: dict[str, Any] = {
        "kind": kind,
        "locale": locale,
        "letter_no": "JXHY-2026-11-000001",
        "issued_on": ISSUED,
        "company": "嘉兴华悦物业服务有限公司" if locale != "en" else "Jiaxing Huayue Property Services Co., Ltd.",
        "estate": "华悦府" if locale != "en" else "Huayue Residences",
        "estate_address": "浙江省嘉兴市南湖区华悦路88号",
        "service_phone": "0573-8888 6666",
        "owner_name": "王建国" if locale != "en" else "Mr Wang Jianguo",
        "postal_address": "浙江省嘉兴市南湖区华悦路88号3栋1单元502室",
        "unit_label": "3栋1单元502室" if locale != "en" else "Block 3, Unit 1, Flat 502",
        "periods": periods,
        "total_fen": sum(line.total_fen for line in periods),
    }
    if kind is LetterKind.final_demand:
        fields["deadline"] = demand_deadline(ISSUED)
    if kind is LetterKind.explanation:
        fields["belief"] = belief
    return LetterContext(**fields)


def bench_compliance(repeat: int) -> dict[str, Any]:
    letters = [
        render_letter_html(letter(kind, locale))
        for kind in (LetterKind.friendly_reminder, LetterKind.formal_reminder, LetterKind.final_demand)
        for locale in LOCALES
    ]
    letters += [render_letter_html(letter(LetterKind.explanation, locale, b)) for b in BELIEFS for locale in LOCALES]
    cold, cold_cpu, warm = [], [], []
    for html in letters:
        for _ in range(repeat):
            compliance.check_sentence.cache_clear()
            started, cpu = time.perf_counter(), time.process_time()
            found = compliance.check_html(html)
            cold.append((time.perf_counter() - started) * 1000)
            cold_cpu.append((time.process_time() - cpu) * 1000)
            if found:
                raise SystemExit(f"a shipped letter fails the check: {[str(v) for v in found]}")
            started = time.perf_counter()
            compliance.check_html(html)
            warm.append((time.perf_counter() - started) * 1000)
    figures = {
        "letters": len(letters),
        "cold_ms_median": round(statistics.median(cold), 2),
        "cold_ms_max": round(max(cold), 2),
        "cold_cpu_ms_median": round(statistics.median(cold_cpu), 2),
        "cold_cpu_ms_max": round(max(cold_cpu), 2),
        "warm_ms_median": round(statistics.median(warm), 2),
        "sentences_per_letter": round(
            statistics.mean(len(compliance.split_sentences(compliance.html_to_text(h))) for h in letters), 1
        ),
    }
    figures["target_met"] = figures["cold_ms_median"] < 20
    log(
        f"compliance check, {len(letters)} letters x {repeat}: cold median {figures['cold_ms_median']} ms, "
        f"max {figures['cold_ms_max']} ms (CPU median {figures['cold_cpu_ms_median']}, "
        f"max {figures['cold_cpu_ms_max']}); "
        f"warm median {figures['warm_ms_median']} ms "
        f"({figures['sentences_per_letter']} sentences a letter)"
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100_000, help="cases to classify (default 100,000)")
    parser.add_argument("--repeat", type=int, default=5, help="timings per letter (default 5)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON on stdout")
    args = parser.parse_args()
    figures = {"classifier": bench_classifier(args.cases), "compliance": bench_compliance(args.repeat)}
    if args.json:
        print(json.dumps(figures, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
