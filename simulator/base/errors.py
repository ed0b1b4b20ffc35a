"""Root of every error the local OSS + STS emulator raises.

Tree (each service package owns its own branch)::

    EmulatorError
    ├── IamError              simulator.iam.errors    (OSS-facing 403 codes: unknown key, bad token ...)
    │   └── PolicyGrammarError                        (a RAM policy document that does not parse)
    ├── StsError              simulator.sts.errors    (AssumeRole wire errors: code, message, HTTP status)
    ├── OssError              simulator.oss.errors    (OSS XML wire errors)
    └── EmulatorConfigError   simulator.base.errors (bad config / faults file, bad admin request)

Every wire-level error carries the ``code`` and ``message`` clients see and the ``http_status``
it is answered with, so the HTTP layer never has to guess.
"""

from __future__ import annotations


class EmulatorError(Exception):
    """Base class of every error raised by the emulator.

    Args:
        message: human-readable text; never contains a secret.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class EmulatorConfigError(EmulatorError):
    """A configuration or faults document (file or admin request) is invalid.

    Args:
        message: what is wrong.
        source: where the document came from (a file path or ``"admin"``), for context.
    """

    def __init__(self, message: str, *, source: str = "") -> None:
        super().__init__(f"{source}: {message}" if source else message)
        self.source = source
