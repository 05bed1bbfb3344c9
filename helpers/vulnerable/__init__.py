"""DELIBERATELY VULNERABLE apps and verifiers, for the attack demonstrations only.

Everything under ``helpers.vulnerable`` is wrong on purpose, in the ways real code goes wrong, so a
learner can break it and then watch the hardened ``helpers`` code hold. Nothing outside this package
imports it, and nothing here should ever be copied into a real application.
"""
