"""From a config to the concrete set of runs, in three parts: `config` reads and checks it, `layout` (`Plan`)
says which runs it makes and where every file goes, `schedule` orders the jobs."""

from mumo.plan.config import AUTHORS, SCHEMA, ConfigError, type_command_line_values
from mumo.plan.layout import Plan, StorePart
from mumo.plan.schedule import (
    LONGEST_CHAIN_PRIORITY,
    PRETRAINING_CHAIN_PRIORITY,
    ROBUSTNESS_PRIORITY,
    Schedule,
)

__all__ = [
    "AUTHORS",
    "LONGEST_CHAIN_PRIORITY",
    "PRETRAINING_CHAIN_PRIORITY",
    "ROBUSTNESS_PRIORITY",
    "SCHEMA",
    "ConfigError",
    "Plan",
    "Schedule",
    "StorePart",
    "type_command_line_values",
]
