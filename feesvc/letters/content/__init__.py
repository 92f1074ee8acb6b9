"""What a letter says: plain data in (``LetterContext``), a printed letter, a short message and an
e-mail subject out.

The reminder run builds one ``LetterContext`` per owner from the ledger (no ORM objects reach this
module) and calls ``write_letters_pdf`` for the print file, ``render_letter_pdf`` for one letter and
``short_message`` / ``email_subject`` for SMS, WeChat and e-mail of the same stage.

Where the words live:

* The prose of each kind is in its template, ``letters/letter_<kind>.html`` (Simplified, Traditional
  and English side by side), so the whole letter can be read, reviewed and compliance-checked in one
  file. ``letters/letter_base.html`` is the layout (letterhead, addressee, reference, date, closing,
  seal); ``letters/letter_macros.html`` holds the pieces several kinds share (amounts table,
  prepay offer, how to pay).
* The rest of the package, by what a reader looks for: ``model`` (the data and its checks),
  ``words`` (labels and titles per script: ``hans`` for zh_CN, ``hant`` shared by zh_TW and zh_HK,
  ``en``), ``phrasing`` (values as printed, and what the templates receive), ``render`` (HTML, PDF,
  print files) and ``messages`` (the short message and e-mail subject of each kind).
* Money and dates go through the Babel-backed filters and ``feesvc.formatting``: never formatted by hand.

Rules the letters keep (DOMAIN.md "Reminders and letters"): a letter goes to the owner only and
names nobody else; nothing threatens utilities, access, credit or public naming; the final demand
(催告函) says the amount, the periods, the deadline and that suit or arbitration may follow, and
nothing else. ``feesvc.letters.compliance`` checks every template and every rendered letter.
"""

from feesvc.letters.content.messages import email_subject, short_message
from feesvc.letters.content.model import (
    BELIEFS,
    DEFAULT_DEMAND_DAYS,
    LATE_FEE_TREATMENTS,
    LETTER_STYLESHEETS,
    SHORT_MESSAGE_MAX,
    ComplaintInfo,
    DisputeWays,
    FeeStandardLine,
    FirstDays,
    Installment,
    LetterContext,
    PaymentWays,
    PeriodLine,
    PlanTerms,
    PrepayOffer,
    RectificationStep,
    demand_deadline,
)
from feesvc.letters.content.phrasing import periods_text, template_context
from feesvc.letters.content.render import render_letter_html, render_letter_pdf, write_letters_pdf
from feesvc.letters.content.words import letter_title

__all__ = [
    "BELIEFS",
    "DEFAULT_DEMAND_DAYS",
    "LATE_FEE_TREATMENTS",
    "LETTER_STYLESHEETS",
    "SHORT_MESSAGE_MAX",
    "ComplaintInfo",
    "DisputeWays",
    "FeeStandardLine",
    "FirstDays",
    "Installment",
    "LetterContext",
    "PaymentWays",
    "PeriodLine",
    "PlanTerms",
    "PrepayOffer",
    "RectificationStep",
    "demand_deadline",
    "email_subject",
    "letter_title",
    "periods_text",
    "render_letter_html",
    "render_letter_pdf",
    "short_message",
    "template_context",
    "write_letters_pdf",
]
