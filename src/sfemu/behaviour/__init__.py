"""Org behaviour: field values, validation rules, assignment, duplicates, convert, merge, faults."""
