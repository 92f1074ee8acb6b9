from __future__ import annotations

from datetime import date
from typing import Annotated

import msgspec

from feesvc.banking.models import BankLineStatus
from feesvc.registry.masking import Masking
from feesvc.schemas import Body, Id


class AccountOut(msgspec.Struct):
    unit_id: int
    owner_id: int | None


class BankLineOut(msgspec.Struct):
    id: int
    statement_id: int
    line_no: int
    booked_on: date
    amount_fen: int
    payer_name: str
    payer_account: str
    reference: str
    bank_txn_id: str
    status: BankLineStatus
    reason: str
    candidates: list[AccountOut]
    unit_id: int | None
    owner_id: int | None
    payment_id: int | None
    assigned_by: str

    def masked(self, masking: Masking) -> BankLineOut:
        """The payer as a reader's role may see a person (a cashier: 张*明), the account's last 4 digits."""
        account = self.payer_account
        shown = ("*" * max(len(account) - 4, 0) + account[-4:]) if account else ""
        return msgspec.structs.replace(self, payer_name=masking.name(self.payer_name), payer_account=shown)


class BankLinePage(msgspec.Struct):
    items: list[BankLineOut]
    total: int
    page: int
    page_size: int


class ProblemOut(msgspec.Struct):
    line: int  # 0: the file as a whole
    column: str
    reason_zh: str
    reason_en: str


class BankImportOut(msgspec.Struct):
    """What an import found and did. ``waiting`` lists (at most ``WAITING_SHOWN``) the file's lines a
    cashier must assign; all of them are at ``GET /estates/{id}/bank-lines``."""

    statement_id: int | None  # None for a dry run
    bank: str
    file_format: str
    file_sha256: str
    lines: int  # credit lines in the file
    debits_skipped: int  # debits, reversals and pending entries
    new_lines: int
    duplicates: int  # lines imported before (this file again, or an overlapping one) or twice in the file
    matched: int
    posted: int  # payments written by this import
    unmatched: int
    ambiguous: int
    dry_run: bool
    waiting: list[BankLineOut]


class AssignLine(Body):
    """The account a cashier assigns a waiting line to: the unit, and the owner whose account it is
    paid into (default: the unit's owner on the day of the transfer)."""

    unit_id: Id
    owner_id: Id | None = None


Status = Annotated[BankLineStatus, msgspec.Meta(description="matched, posted, unmatched or ambiguous")]
