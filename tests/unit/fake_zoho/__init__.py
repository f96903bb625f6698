"""Tests of the Zoho emulator (fake_zoho), through plain HTTP."""
