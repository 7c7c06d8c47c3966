"""Claim-level answer verification: split an answer into claims, check each against the passages
the model was given (hard facts, content support, negations and antonyms), and say which passage
and which exact quote supports it.

``verify_answer`` is the entry point; ``Verifier`` is the seam (``HeuristicVerifier`` by
default, ``CrossEncoderVerifier`` for a local NLI cross-encoder).
"""

from engine.verify.answer import Verification, verify_answer
from engine.verify.claims import Claim, split_claims
from engine.verify.cross_encoder import CrossEncoderVerifier
from engine.verify.verdicts import ClaimVerdict, Reason, Verifier
from engine.verify.verifier import HeuristicVerifier, Thresholds

__all__ = [
    "Claim",
    "ClaimVerdict",
    "CrossEncoderVerifier",
    "HeuristicVerifier",
    "Reason",
    "Thresholds",
    "Verification",
    "Verifier",
    "split_claims",
    "verify_answer",
]
