"""Demo data for trying feesvc: two estates, years of billing and payments, a realistic spread of arrears
with the complaints, contact notes, late fees, prepayments and installment plans that go with it."""

from feesvc.demo.builder import build_demo
from feesvc.demo.plan import Profile
from feesvc.demo.summary import DemoSummary

__all__ = ["DemoSummary", "Profile", "build_demo"]
