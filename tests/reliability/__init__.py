"""Reliability and security proofs of zoho-watch (issue 8).

Chaos, auth faults, bad input, secrets, least privilege, concurrency and crash safety.
"""
