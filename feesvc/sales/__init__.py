"""At the sale (过户, issue 15 item 3; DOMAIN.md "Change of owner", "Prepay discount").

Recording a transfer (``POST /units/{id}/ownerships``) settles, in the same transaction:

* the seller's prepaid periods from the one the handover falls in (or starts)
  (charges a prepayment booked ahead, still standing) are taken back as a refund is
  (feesvc.prepay.refund): their charges, discounts and payments reversed, the kept periods
  re-priced at the tier their own count reaches, what was paid for the rest held for the seller;
* the seller's unused prepaid credit, with what the periods gave back, is then either refunded to
  the seller or, when the request records the seller's written consent, moved to the buyer's
  account (an entry on each account naming the consent).

Design choice, the default (no consent): the refund is recorded as paid out at once, by the
request's ``refund_method`` (a refund entry per credit, owner = seller, with reason and actor), as
the prepay refund route does. It is not left as the seller's credit: held credit is applied to its
owner's open debts by the next billing run, which would set the refund off against the seller's
arrears without the notice an offset needs (民法典 568); the manager can take the seller's arrears at
the desk instead. What the seller still owes stays on the seller's account and is what the
settlement certificate lists.

The buyer gets the payment notice (缴费须知) as a letter, through the letters package (content,
compliance check, outbox). A retry of the same transfer gives back what the first settled (the
ownership row is the natural key); the same transfer told differently is refused.

Periods split by the handover: charges issued whole and paid in the ordinary way are pro-rated
by ``feesvc.billing.sale.reattribute_charges``, which the transfer calls first (see
``service.record_transfer``). A split period the seller *prepaid* is taken back here with the later
ones (the prepayment's discount was for whole periods served to the prepayer) and issued again as
the owners' shares (``billing.sale.reissue_as_shares``): the seller's days are paid at once, at the
full rate, from what the seller paid; the buyer's days are the buyer's to pay; only the rest is
refunded or moved.
"""
