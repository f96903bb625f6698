"""Reliability and security proofs of zoho-watch.

Chaos, auth faults, bad input, secrets, least privilege, concurrency and crash safety.
"""
