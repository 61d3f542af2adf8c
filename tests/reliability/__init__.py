"""Reliability and security: nothing is lost and no one gets in (issue #9)."""
