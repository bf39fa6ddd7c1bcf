"""Which way is better for a metric or an objective: one definition for metrics and job specs (a job
spec may override a metric's own direction)."""

from typing import Literal

Direction = Literal["minimize", "maximize"]
