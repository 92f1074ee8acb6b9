from __future__ import annotations

from dataclasses import dataclass

from feesvc.auth.models import Role


@dataclass(frozen=True)
class Principal:
    """Who is acting: a token's holder, or the command line acting as the system."""

    role: Role
    name: str
    token_id: int | None = None
    owner_id: int | None = None

    @property
    def label(self) -> str:
        """How the actor is written into ledger entries and the audit log."""
        who = f"{self.role.value}:{self.name}"
        return f"{who}#{self.token_id}" if self.token_id is not None else who

    @property
    def is_staff(self) -> bool:
        return self.role in (Role.cashier, Role.manager, Role.system)


COMMAND_LINE = Principal(role=Role.system, name="cli")
