"""Tasking: quotations, feasibility studies and order coverage of tasking orders."""
