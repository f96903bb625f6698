"""Tests of the Zoho emulator (local/fake_zoho), through plain HTTP."""
