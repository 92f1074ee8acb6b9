"""Online payment: payment orders paid through WeChat Pay or Alipay, their notifications posted
through the desk's idempotent path, held notifications for a cashier, and daily reconciliation
with the provider's bill file (issue 19 item 3)."""

from feesvc.online.credentials import online_payment_enabled

__all__ = ["online_payment_enabled"]
