"""The fleet package's exceptions, and the exit status of each kind of failed run.

::

    FleetError                  root of everything ``simulator.fleet`` raises
    ├── FleetInputError         bad arguments, settings or scenario (exit 2), found before
    │   └── ScenarioError       any service starts; the message is one line naming the input
    └── FleetServiceError       a service could not be started, reached or used (exit 4)
"""

from __future__ import annotations

__all__ = ["FleetError", "FleetInputError", "FleetServiceError", "ScenarioError"]


class FleetError(Exception):
    """Root of the fleet package's exceptions."""


class FleetInputError(FleetError, ValueError):
    """An argument, setting or scenario is invalid; the message names it in one line."""


class ScenarioError(FleetInputError):
    """A scenario file is missing, unreadable or invalid; the message says where."""


class FleetServiceError(FleetError):
    """A service of the run could not be started, reached or used."""
