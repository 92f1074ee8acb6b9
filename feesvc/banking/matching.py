"""Matching a bank credit to a unit and owner, by what its reference (附言) and payer say and by its
amount. Plain functions over plain data: nothing here reads the database or imports a model.

What owners write is what letters and notices print: the estate, the building and the unit
("锦绣华苑 3栋 3-1-201", "1幢101", "3栋1单元201室"), a letter's number (the payment notice's
"JXHY-2026-HJ000123"), a receipt's number ("2026-000123"), or their name. A letter or a receipt
names one account; a unit reference names the unit (its owner on the day of the transfer); a name
alone names its owner's units. The line is matched when exactly one account fits and its amount
fits what that account owes (some of its oldest periods, all of it, or all of it and some periods
ahead, or the letter's total); otherwise it waits for a cashier with the reason.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from itertools import accumulate

_DASHES = re.compile(r"[\u2010-\u2015\u2212\uff0d~～_—]")
# "3栋1单元201室", "3号楼1单元201" -> 3-1-201; "1幢101", "3栋 3-1-201" -> 1-101, 3-3-1-201 (the
# building's digits in front: a unit number is then found as a tail of the token).
_BUILDING = r"(\d+|[A-Z])\s*(?:号楼|栋|幢|座|#)\s*-?\s*"
_THREE_PART = re.compile(_BUILDING + r"(\d+)\s*单元\s*-?\s*(\d+)\s*(?:室|号|房)?")
_TWO_PART = re.compile(_BUILDING + r"([A-Z0-9]+(?:-[A-Z0-9]+)*)\s*(?:室|号|房)?")
_LETTER = re.compile(r"(?<![0-9])((?:19|2[0-9])[0-9]{2})-?HJ([0-9]{6})(?![0-9])")
_RECEIPT = re.compile(r"(?<![0-9-])((?:19|2[0-9])[0-9]{2})-([0-9]{6})(?![0-9-])")
_TOKEN = re.compile(r"[A-Z0-9]+(?:-[A-Z0-9]+)*")
_CJK_RUN = re.compile(r"[\u3400-\u9fff·]{2,}")
_BUILDING_WORDS = re.compile(r"号楼|栋|幢|座|楼|#|\s")
NAME_LENGTHS = range(2, 5)  # Chinese names of 2 to 4 characters


@dataclass(frozen=True)
class Account:
    """Whose money it is: a unit and the owner whose account it is paid into (None: no owner)."""

    unit_id: int
    owner_id: int | None


@dataclass(frozen=True)
class Holding:
    unit_id: int
    owner_id: int
    starts_on: date
    ends_on: date | None


@dataclass
class Directory:
    """The estate as matching reads it: units by number, who held them when, owners by name, and
    the letters and receipts the file's references name."""

    units_by_number: dict[str, list[int]] = field(default_factory=dict)
    building_key: dict[int, str] = field(default_factory=dict)  # unit -> its building's name, bare
    holdings_of_unit: dict[int, list[Holding]] = field(default_factory=dict)
    holdings_of_owner: dict[int, list[Holding]] = field(default_factory=dict)
    owners_by_name: dict[str, list[int]] = field(default_factory=dict)
    letters: dict[str, tuple[Account, int]] = field(default_factory=dict)  # "2026-HJ000123" -> account, total
    receipts: dict[str, Account] = field(default_factory=dict)  # "2026-000123" -> account

    def add_unit(self, unit_id: int, building: str, number: str) -> None:
        self.units_by_number.setdefault(normalize(number), []).append(unit_id)
        self.building_key[unit_id] = building_key(building)

    def add_holding(self, holding: Holding, owner_name: str) -> None:
        self.holdings_of_unit.setdefault(holding.unit_id, []).append(holding)
        self.holdings_of_owner.setdefault(holding.owner_id, []).append(holding)
        owners = self.owners_by_name.setdefault(bare_name(owner_name), [])
        if holding.owner_id not in owners:
            owners.append(holding.owner_id)

    def owner_on(self, unit_id: int, day: date) -> int | None:
        for h in self.holdings_of_unit.get(unit_id, []):
            if h.starts_on <= day and (h.ends_on is None or day <= h.ends_on):
                return h.owner_id
        return None


@dataclass(frozen=True)
class References:
    """What a line's reference and payer name point at."""

    letters: tuple[str, ...]
    receipts: tuple[str, ...]
    tokens: tuple[str, ...]  # candidate unit references, normalized
    names: tuple[str, ...]  # candidate owner names (the payer's first)


@dataclass(frozen=True)
class AccountFacts:
    """What an account owes, as the amount check reads it."""

    period_open_fen: tuple[int, ...]  # what is open per period, oldest first
    period_charge_fen: int  # the unit's latest period charge: paying periods ahead
    prepay_cap_periods: int


@dataclass(frozen=True)
class Decision:
    status: str  # matched, unmatched or ambiguous (feesvc.banking.models.BankLineStatus)
    account: Account | None
    reason: str
    candidates: tuple[Account, ...] = ()


# ---------------------------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------------------------


def normalize(text: str) -> str:
    """Full-width to half-width, upper case, one kind of dash, and the unit words as dashes."""
    value = _DASHES.sub("-", unicodedata.normalize("NFKC", text).upper())
    value = _THREE_PART.sub(r"\1-\2-\3", value)
    return _TWO_PART.sub(r"\1-\2", value)


def building_key(name: str) -> str:
    """A building's name without its word: "3栋" -> "3", "A座" -> "A"."""
    return _BUILDING_WORDS.sub("", unicodedata.normalize("NFKC", name).upper())


def bare_name(name: str) -> str:
    return re.sub(r"\s", "", unicodedata.normalize("NFKC", name))


def references(reference: str, payer_name: str) -> References:
    text = normalize(reference)
    letters = tuple(f"{m[1]}-HJ{m[2]}" for m in _LETTER.finditer(text))
    text = _LETTER.sub(" ", text)
    receipts = tuple(f"{m[1]}-{m[2]}" for m in _RECEIPT.finditer(text))
    text = _RECEIPT.sub(" ", text)
    names = [bare_name(payer_name)] if payer_name.strip() else []
    for run in _CJK_RUN.findall(unicodedata.normalize("NFKC", reference)):
        names += [run[i : i + n] for n in NAME_LENGTHS for i in range(len(run) - n + 1)]
    return References(letters, receipts, tuple(_TOKEN.findall(text)), tuple(dict.fromkeys(names)))


# ---------------------------------------------------------------------------------------------
# Candidates
# ---------------------------------------------------------------------------------------------


def units_of_token(token: str, directory: Directory) -> set[int]:
    """Units a token names: its whole text as a unit number, else a tail of it as a number in the
    building its head names ("1-101": unit 101 of building 1)."""
    if token in directory.units_by_number:
        return set(directory.units_by_number[token])
    parts = token.split("-")
    for cut in range(1, len(parts)):
        head, tail = "-".join(parts[:cut]), "-".join(parts[cut:])
        units = directory.units_by_number.get(tail, [])
        in_building = {u for u in units if directory.building_key.get(u) in (head, parts[cut - 1])}
        if in_building:
            return in_building
    return set()


def candidates(refs: References, day: date, directory: Directory) -> tuple[tuple[Account, ...], str]:
    """The accounts a line may be for and what named them (letter, receipt, unit, name or "")."""
    named = [directory.letters[k][0] for k in refs.letters if k in directory.letters]
    if named:
        return tuple(dict.fromkeys(named)), "letter"
    named = [directory.receipts[k] for k in refs.receipts if k in directory.receipts]
    if named:
        return tuple(dict.fromkeys(named)), "receipt"
    owners = {o for name in refs.names for o in directory.owners_by_name.get(name, [])}
    by_token = [units_of_token(t, directory) for t in refs.tokens]
    # A token with a dash names a unit more surely than a bare number (an amount, a year).
    specific = [u for t, u in zip(refs.tokens, by_token, strict=True) if "-" in t and u]
    units = set().union(*specific) if specific else set().union(*by_token)
    if units:
        accounts = [Account(u, directory.owner_on(u, day)) for u in sorted(units)]
        of_named_owner = [a for a in accounts if a.owner_id in owners]
        return tuple(of_named_owner or accounts), "unit"
    held = [
        Account(h.unit_id, h.owner_id)
        for owner in sorted(owners)
        for h in directory.holdings_of_owner.get(owner, [])
        if h.starts_on <= day and (h.ends_on is None or day <= h.ends_on)
    ]
    return tuple(dict.fromkeys(held)), "name" if held else ""


# ---------------------------------------------------------------------------------------------
# Amount and decision
# ---------------------------------------------------------------------------------------------


def fitting_amounts(facts: AccountFacts) -> set[int]:
    """Amounts an owner of this account plausibly sends: the oldest periods' open amounts summed
    (one period, two, … all of it), or all of it and 1 … cap periods ahead."""
    sums = set(accumulate(facts.period_open_fen))
    owed = sum(facts.period_open_fen)
    if facts.period_charge_fen > 0:
        sums |= {owed + k * facts.period_charge_fen for k in range(1, facts.prepay_cap_periods + 1)}
    sums.discard(0)
    return sums


def decide(
    amount_fen: int,
    accounts: Iterable[Account],
    basis: str,
    facts_of: Callable[[Account], AccountFacts],
    letter_totals: Iterable[int] = (),
) -> Decision:
    accounts = tuple(accounts)
    if not accounts:
        return Decision("unmatched", None, "no unit, owner, letter or receipt found in the reference or the payer")
    letter_fits = basis == "letter" and amount_fen in set(letter_totals)
    fitting = [a for a in accounts if letter_fits or amount_fen in fitting_amounts(facts_of(a))]
    if len(fitting) == 1:
        return Decision("matched", fitting[0], f"by {basis} and amount", accounts)
    if len(fitting) > 1:
        return Decision("ambiguous", None, f"{len(fitting)} units fit the {basis} and the amount", tuple(fitting))
    if len(accounts) > 1:
        return Decision("ambiguous", None, f"{len(accounts)} units fit the {basis}; the amount fits none", accounts)
    return Decision("unmatched", None, f"the amount fits nothing unit {accounts[0].unit_id} owes", accounts)


def period_amounts(debits: Iterable[tuple[str | None, date, int]]) -> tuple[int, ...]:
    """Open amounts per period, oldest first, from (period, due date, open fen) of an account's
    open debits (a late fee counted with its charge's period)."""
    first_due: dict[str | None, date] = {}
    open_fen: dict[str | None, int] = {}
    for period, due, fen in debits:
        first_due[period] = min(due, first_due.get(period, due))
        open_fen[period] = open_fen.get(period, 0) + fen
    return tuple(open_fen[p] for p in sorted(open_fen, key=lambda p: first_due[p]))
