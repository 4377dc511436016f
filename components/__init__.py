"""Reusable pieces of the page: plain factories and All-in-One widgets."""
