"""Schedules: a source's `schedule` as cron with a period, one DAG per schedule, and its collection tasks."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta

from dissentry.config import SCHEDULE_PRESETS, CollectionSettings, Config

# presets Airflow accepts, as cron, so every schedule gets the same timetable (the config checks them)
_PRESETS: dict[str, str] = SCHEDULE_PRESETS
# a cron field character -> a dag_id-safe token, distinct for each so two crons never share an id
_CRON_TOKENS: dict[str, str] = {"*": "x", "/": "every", "-": "to", ",": "and", "?": "q", "#": "nth"}


@dataclass(frozen=True)
class Schedule:
    expression: str  # as written in the config
    cron: str
    interval: timedelta

    @property
    def dag_id(self) -> str:
        return f"dissentry_collect_{schedule_slug(self.expression)}"


def schedule_slug(expression: str) -> str:
    """`@daily` -> `daily`; `*/15 * * * *` -> `cron_xevery15_x_x_x_x`."""
    expression = expression.strip()
    if expression in _PRESETS:
        return expression[1:]
    fields = []
    for field in expression.split():
        fields.append("".join(_CRON_TOKENS.get(ch, ch) if not ch.isalnum() else ch.lower() for ch in field))
    return "cron_" + "_".join(fields)


def cron_period(cron: str, samples: int = 64) -> timedelta:
    """The longest gap between consecutive fire times of a cron expression.

    A run's data interval is [fire time - period, fire time). For an irregular cron ("weekdays at
    9") the longest gap makes consecutive intervals overlap instead of leaving holes; overlap costs
    nothing because collection is cursor-based and normalisation drops repeated records.
    """
    from croniter import croniter  # installed with apache-airflow; only needed when building DAGs

    if not croniter.is_valid(cron):
        raise ValueError(f"not a cron expression: {cron!r}")
    it = croniter(cron, datetime(2025, 1, 1))
    times = [it.get_next(datetime) for _ in range(samples + 1)]
    return max(b - a for a, b in itertools.pairwise(times))


def parse_schedule(expression: str) -> Schedule:
    expression = expression.strip()
    cron = _PRESETS.get(expression, expression)
    if cron.startswith("@"):
        raise ValueError(f"schedule {expression!r}: use one of {', '.join(_PRESETS)} or a cron expression")
    return Schedule(expression, cron, cron_period(cron))


def collection_plan(config: Config) -> dict[str, dict[str, list[str]]]:
    """{schedule expression: {platform: [source names]}}, in config order."""
    plan: dict[str, dict[str, list[str]]] = {}
    for source in config.sources:
        plan.setdefault(source.schedule.strip(), {}).setdefault(source.platform, []).append(source.name)
    return plan


def execution_timeout(schedule: Schedule, settings: CollectionSettings | None = None) -> timedelta:
    """`task_timeout_minutes` of `[settings.collection]` when set, else the run's own period
    (within 10 minutes and 6 hours)."""
    if settings is not None and settings.task_timeout_minutes is not None:
        return timedelta(minutes=settings.task_timeout_minutes)
    return min(max(schedule.interval, timedelta(minutes=10)), timedelta(hours=6))


@dataclass(frozen=True)
class CollectTask:
    """One mapped collection task of a schedule's DAG: a platform's sources that share Airflow settings."""

    task_id: str
    platform: str
    sources: tuple[str, ...]
    retries: int
    retry_delay: timedelta
    execution_timeout: timedelta


def collection_tasks(config: Config, schedule: Schedule) -> list[CollectTask]:
    """The collection tasks of one schedule, built from `[settings.collection]` and each source's
    overrides. Airflow sets retries and timeouts per task, not per mapped instance, so a platform's
    sources with different settings get one task each setting: `collect_<platform>` when they all
    agree, `collect_<platform>_1`, `_2`, ... when they do not."""
    tasks: list[CollectTask] = []
    for platform, names in collection_plan(config).get(schedule.expression.strip(), {}).items():
        by_settings: dict[tuple[int, timedelta, timedelta], list[str]] = {}
        for name in names:
            settings = config.collection_for(name)
            key = (settings.task_retries, timedelta(seconds=settings.task_retry_delay_seconds),
                   execution_timeout(schedule, settings))
            by_settings.setdefault(key, []).append(name)
        for n, ((retries, delay, timeout), group) in enumerate(by_settings.items(), start=1):
            task_id = f"collect_{platform}" if len(by_settings) == 1 else f"collect_{platform}_{n}"
            tasks.append(CollectTask(task_id, platform, tuple(group), retries, delay, timeout))
    return tasks
