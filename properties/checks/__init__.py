"""Checks per subject: policy.* (one host), peers.* (two hosts), qm.* (protocol)."""
