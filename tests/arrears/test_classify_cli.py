"""``feesvc classify FILE.jsonl``, driven through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from feesvc.arrears.classify_cli import classify_command

PUBLIC_CASES = Path(__file__).resolve().parents[3] / "shared/cases/public.jsonl"
OUTPUT_KEYS = {"id", "category", "secondary", "confidence", "signals", "approach"}


def case(case_id: str, *notes: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": case_id,
        "locale": "zh_CN",
        "unit": {"vacant": False, "area_m2": "80.00"},
        "arrears": {"amount_fen": 48000, "months_overdue": 3, "first_unpaid_period": "2025-01"},
        "notes": list(notes),
        "complaints": [],
        **extra,
    }


def line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False)


def invoke(*args: str, stdin: str | bytes | None = None) -> tuple[Result, list[dict[str, Any]]]:
    result = CliRunner().invoke(classify_command, list(args), input=stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result, [json.loads(out) for out in result.stdout.splitlines()]


HARDSHIP = case("c1", "2025-03-02 业主说儿子住院了，家里实在拿不出钱，问能不能分期。")
SERVICE = case("c2", "2025-03-02 业主说：“不是没钱，是服务太差，门禁修好那天我就来交。”")
MISUNDERSTANDING = case("c3", "2025-03-02 业主说：“房子一直空着，凭什么收钱？”")


def test_classifies_every_line_from_stdin() -> None:
    result, out = invoke("-", stdin="\n".join(line(c) for c in (HARDSHIP, SERVICE, MISUNDERSTANDING)) + "\n")
    assert result.exit_code == 0
    assert [o["id"] for o in out] == ["c1", "c2", "c3"]
    assert [o["category"] for o in out] == ["hardship", "service_dissatisfaction", "misunderstanding"]
    assert all(set(o) == OUTPUT_KEYS for o in out)
    assert out[0]["approach"]["code"] == "installment_plan"
    assert out[2]["approach"]["belief"] == "vacancy"
    assert out[2]["approach"]["legal_basis"] == "民法典 944(1)"


def test_output_keeps_chinese_readable_and_quotes_verbatim() -> None:
    result, out = invoke("-", stdin=line(SERVICE))
    assert "服务太差" in result.stdout  # ensure_ascii=False: no \\u escapes
    quotes = [signal["quote"] for signal in out[0]["signals"] if signal["verbatim"]]
    assert quotes and all(quote in SERVICE["notes"][0] for quote in quotes)
    assert {"cause", "weight", "source", "quote", "rule", "verbatim"} <= set(out[0]["signals"][0])


def test_malformed_lines_are_reported_and_the_rest_still_classified() -> None:
    no_unit = {key: value for key, value in HARDSHIP.items() if key != "unit"} | {"id": "bad1"}
    bad_vacant = case("bad2") | {"unit": {"vacant": "no", "area_m2": "80.00"}}
    bad_note = case("bad3", "已电话提醒")
    stdin = "\n".join(
        [
            line(HARDSHIP),
            "{not json",
            line(no_unit),
            line(bad_vacant),
            "",
            line(bad_note),
            "[1, 2]",
            line(SERVICE),
            line(HARDSHIP),  # the same id again
        ]
    )
    result, out = invoke("-", stdin=stdin)
    assert result.exit_code == 1
    assert len(out) == 9  # exactly one object per input line
    assert out[0]["category"] == "hardship" and out[7]["category"] == "service_dissatisfaction"
    errors = {o["line"]: o for o in out if "error" in o}
    assert sorted(errors) == [2, 3, 4, 5, 6, 7, 9]
    assert errors[2]["id"] is None and "not valid JSON" in errors[2]["error"]
    assert errors[3] == {"id": "bad1", "line": 3, "error": "unit: required field is missing"}
    assert errors[4]["id"] == "bad2" and errors[4]["error"].startswith("unit.vacant: ")
    assert "empty line" in errors[5]["error"]
    assert errors[6]["id"] == "bad3" and errors[6]["error"].startswith("notes[0]: ")
    assert errors[7]["id"] is None and errors[7]["error"].startswith("record: must be an object")
    assert errors[9]["id"] == "c1" and "already used on line 1" in errors[9]["error"]


def test_invalid_utf8_is_a_malformed_line() -> None:
    stdin = line(HARDSHIP).encode() + b"\n\xff\xfe{}\n" + line(SERVICE).encode() + b"\n"
    result, out = invoke("-", stdin=stdin)
    assert result.exit_code == 1
    assert [o.get("category") for o in out] == ["hardship", None, "service_dissatisfaction"]
    assert out[1] == {"id": None, "line": 2, "error": "not valid UTF-8 (byte 1)"}


def test_byte_order_mark_and_crlf_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "cases.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + line(HARDSHIP).encode() + b"\r\n" + line(MISUNDERSTANDING).encode() + b"\r\n")
    result, out = invoke(str(path))
    assert result.exit_code == 0
    assert [o["id"] for o in out] == ["c1", "c3"]


def test_today_option_reads_the_case_as_it_stood() -> None:
    record = case("c4", "2025-01-05 已电话提醒", "2025-06-01 业主说门禁坏了半年没人修，修好再交。")
    _, later = invoke("-", stdin=line(record))
    _, earlier = invoke("--today", "2025-03-01", "-", stdin=line(record))
    assert later[0]["category"] == "service_dissatisfaction"
    assert earlier[0]["category"] == "unknown"


def test_missing_file_is_a_usage_error() -> None:
    result = CliRunner().invoke(classify_command, ["/nonexistent/cases.jsonl"])
    assert result.exit_code == 2
    assert result.stdout == ""


def test_public_file_end_to_end() -> None:
    if not PUBLIC_CASES.exists():
        pytest.skip(f"labelled cases not found at {PUBLIC_CASES} (they live outside the repository)")
    expected = [json.loads(raw)["expected"] for raw in PUBLIC_CASES.read_text(encoding="utf-8").splitlines()]
    result, out = invoke(str(PUBLIC_CASES))
    assert result.exit_code == 0
    assert len(out) == len(expected) > 0
    correct = sum(o["category"] == e["category"] for o, e in zip(out, expected, strict=True))
    assert correct / len(out) >= 0.9


def test_a_large_file_on_worker_processes_gives_the_same_lines_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    from feesvc.arrears import classify_cli

    records = [HARDSHIP, SERVICE, MISUNDERSTANDING] * 4
    lines = [line({**record, "id": f"c{i}"}) for i, record in enumerate(records)]
    lines[5] = "{not json"
    lines[9] = line({**SERVICE, "id": "c2"})  # an id already used on line 3
    stdin = "\n".join(lines) + "\n"
    serial, serial_out = invoke("--jobs", "1", "-", stdin=stdin)
    monkeypatch.setattr(classify_cli, "CHUNK_LINES", 4)  # three chunks on two workers
    pooled, pooled_out = invoke("--jobs", "2", "-", stdin=stdin)
    assert pooled.exit_code == serial.exit_code == 1
    assert pooled_out == serial_out and len(pooled_out) == len(lines)
    assert [out.get("id") for out in pooled_out][:5] == ["c0", "c1", "c2", "c3", "c4"]
    assert pooled_out[5]["line"] == 6 and "not valid JSON" in pooled_out[5]["error"]
    assert pooled_out[9]["error"] == "id: 'c2' already used on line 3"
