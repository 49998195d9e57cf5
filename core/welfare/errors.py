"""What can go wrong in welfare ranking, each with a message an operator can act on."""

from __future__ import annotations


class WelfareError(Exception):
    """Base of the welfare-ranking errors; ``str()`` is a one-sentence message for the user."""


class WelfareDataError(WelfareError):
    """Training or evaluation data that cannot be used (missing columns, NaNs, a text label, too few rows)."""


class ModelFileError(WelfareError):
    """A model file that is missing, altered, unreadable or made for another feature set."""


class UnknownModel(WelfareError):
    """No registered model has that version."""


class NoActiveModel(WelfareError):
    """Ranking needs an active model and none is registered as active."""


class RankingConflict(WelfareError):
    """The stored ranking cannot be combined with the requested run (e.g. a regional re-rank under another model)."""
