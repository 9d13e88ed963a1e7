"""What can go wrong with a lake, as exceptions that say it in one sentence."""
from __future__ import annotations


class LakeError(RuntimeError):
    """A lake problem a person can act on; the message says what happened and what to do."""


class LakeBusy(LakeError):
    """Another run holds the lake's writer lock."""


class LakeUrlError(LakeError):
    """The lake's address cannot be opened (unknown scheme, missing package, bad URL)."""


class LakeUpgradeError(LakeError):
    """A lake of an older layout that could not be upgraded."""
