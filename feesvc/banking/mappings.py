"""Which column of a bank's CSV export holds what: per bank, built in or from the settings file.

Banks export statements with their own headers (and a few title lines above them). A mapping names,
for each field, the headers it may have; the header row is the first row that has them all. Two
ways of giving the direction are known: an amount with a debit/credit column (``amount`` and
``direction``, the credit values listed), or a credit column and a debit column (``credit_amount``
and ``debit_amount``). Extra mappings come from a TOML file (``FEESVC_BANK_MAPPINGS``)::

    [banks.icbc]
    date = ["交易日期"]
    credit_amount = ["贷方发生额"]
    debit_amount = ["借方发生额"]
    payer_name = ["对方户名"]
    payer_account = ["对方账号"]
    reference = ["附言", "用途"]
    transaction_id = ["交易流水号"]
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

FIELDS = (
    "date",
    "amount",
    "direction",
    "credit_amount",
    "debit_amount",
    "payer_name",
    "payer_account",
    "reference",
    "transaction_id",
)
OPTIONAL = frozenset({"payer_name", "payer_account", "reference", "transaction_id", "debit_amount"})
DEFAULT_CREDIT_VALUES = ("贷", "贷方", "收入", "来账", "C", "CR", "CRDT", "CREDIT", "+")


@dataclass(frozen=True)
class BankMapping:
    name: str
    # field -> the headers it may have (the first found is used)
    columns: dict[str, tuple[str, ...]]
    credit_values: tuple[str, ...] = DEFAULT_CREDIT_VALUES
    fields: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", tuple(f for f in FIELDS if f in self.columns))

    @property
    def split_amounts(self) -> bool:
        """A credit column (and a debit column), rather than an amount and its direction."""
        return "credit_amount" in self.columns


BUILT_IN = {
    m.name: m
    for m in (
        # An amount and a debit/credit flag (借贷标志), as most online-banking exports give it.
        BankMapping(
            "default",
            {
                "date": ("交易日期", "记账日期", "日期", "date"),
                "amount": ("交易金额", "金额", "amount"),
                "direction": ("借贷标志", "借贷方向", "收支方向", "direction"),
                "payer_name": ("对方户名", "对方账户名称", "付款人名称", "payer"),
                "payer_account": ("对方账号", "付款人账号", "payer account"),
                "reference": ("附言", "摘要", "用途", "备注", "reference"),
                "transaction_id": ("交易流水号", "流水号", "银行流水号", "transaction id"),
            },
        ),
        # A credit column (贷方发生额) and a debit column (借方发生额).
        BankMapping(
            "split",
            {
                "date": ("交易日期", "记账日期", "日期"),
                "credit_amount": ("贷方发生额", "收入金额", "贷方金额"),
                "debit_amount": ("借方发生额", "支出金额", "借方金额"),
                "payer_name": ("对方户名", "对方账户名称", "付款人名称"),
                "payer_account": ("对方账号", "付款人账号"),
                "reference": ("附言", "摘要", "用途", "备注"),
                "transaction_id": ("交易流水号", "流水号", "银行流水号"),
            },
        ),
    )
}


class UnknownMapping(ValueError):
    pass


def _mapping(name: str, table: dict[str, object]) -> BankMapping:
    columns: dict[str, tuple[str, ...]] = {}
    for key, value in table.items():
        if key == "credit_values":
            continue
        if key not in FIELDS:
            raise UnknownMapping(f"bank mapping {name!r}: unknown field {key!r} (fields: {', '.join(FIELDS)})")
        headers = [value] if isinstance(value, str) else value
        if not isinstance(headers, list) or not all(isinstance(h, str) and h for h in headers):
            raise UnknownMapping(f"bank mapping {name!r}: {key} takes a header or a list of headers")
        columns[key] = tuple(headers)
    wanted = {"date", "credit_amount"} if "credit_amount" in columns else {"date", "amount", "direction"}
    if missing := sorted(wanted - columns.keys()):
        raise UnknownMapping(f"bank mapping {name!r} lacks {', '.join(missing)}")
    credit = table.get("credit_values", list(DEFAULT_CREDIT_VALUES))
    if not isinstance(credit, list) or not all(isinstance(c, str) for c in credit):
        raise UnknownMapping(f"bank mapping {name!r}: credit_values takes a list of texts")
    return BankMapping(name, columns, tuple(c.upper() for c in credit))


def load_mappings(path: str) -> dict[str, BankMapping]:
    """The built-in mappings and those of the TOML file at ``path`` (none if empty)."""
    mappings = dict(BUILT_IN)
    if path:
        try:
            banks = tomllib.loads(Path(path).read_text(encoding="utf-8")).get("banks", {})
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            raise UnknownMapping(f"the bank mappings file {path} cannot be read: {error}") from None
        for name, table in banks.items():
            mappings[name] = _mapping(name, table)
    return mappings


def mapping_named(mappings: dict[str, BankMapping], name: str) -> BankMapping:
    if name not in mappings:
        raise UnknownMapping(f"no column mapping for bank {name!r}: known banks are {', '.join(sorted(mappings))}")
    return mappings[name]
