"""What tickets share below the domains that work them: the lifecycle vocabulary.

The incident domain moves tickets through these states; the SLA engine's pause rules name the
same states and hold reasons, so both import them from here rather than from each other.
"""
