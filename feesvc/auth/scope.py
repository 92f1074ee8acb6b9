"""What an owner token may read of a unit's records: those of its own account only.

A record of a unit (a letter, a complaint, a plan, a payment, a ledger entry) belongs to one owner's
account (DOMAIN "Change of owner"): after a sale the seller and the buyer share the unit but never
see each other's name, payments, letters or entries. Staff read every record.
"""

from __future__ import annotations

from feesvc.auth.principal import Principal
from feesvc.errors import Forbidden


def check_owns(principal: Principal, owner_id: int | None, what: str = "record") -> None:
    """Refuse an owner a record of another owner's account, or one that does not exist (``owner_id``
    None for a missing record): the same 403 either way, so an owner cannot probe the ids of
    records not theirs."""
    if principal.is_staff:
        return
    if principal.owner_id is None or owner_id != principal.owner_id:
        raise Forbidden(f"this {what} is not yours")


def owned_by_reader(principal: Principal, owner_id: int | None) -> bool:
    """Whether the reader may see a record of ``owner_id``'s account (staff: every record)."""
    return principal.is_staff or (principal.owner_id is not None and owner_id == principal.owner_id)
