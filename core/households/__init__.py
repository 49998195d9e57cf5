"""Households and members: data, validation rules, reads and writes."""
