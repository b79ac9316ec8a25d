"""Settings: parsed and validated once, from the environment and a ``.env`` file.

Nothing below this package reads the environment: the composition root builds a
:class:`Settings` and passes it (or the parts it needs) to constructors.

Every problem becomes a :class:`~tokensmith.errors.ConfigError` naming the variable, which the
CLI prints as one line.

=============  ================================================================================
``model``      the :class:`Settings` fields, defaults and the checks that need only the values
``fields``     value types and parsers (durations, address ranges, URLs, service clients)
``resolve``    :func:`load_settings`: development secrets, production's rules, one-line errors
=============  ================================================================================
"""

from __future__ import annotations

from tokensmith.settings.fields import ServiceClientSecret
from tokensmith.settings.model import Settings
from tokensmith.settings.resolve import MIN_SECRET_BYTES, load_settings

__all__ = ["MIN_SECRET_BYTES", "ServiceClientSecret", "Settings", "load_settings"]
