"""netlab's pytest plugin (entry point ``pytest11``): fixtures for the lab harness.

Filled in with the harness; registered now so that the entry point always resolves.
"""
