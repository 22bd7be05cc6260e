"""What every UP42 operator shares: the hook, idempotency keys, deadlines, input coercion.

Idempotency: everything that costs credits (orders, jobs) is created under a name or tag derived
from the task instance (dag id, task id, run id, map index) - never from the try number - so a
retried or re-run task finds what its earlier try created instead of paying twice.
"""

from __future__ import annotations

import difflib
import hashlib
import inspect
import re
import time
from collections.abc import Iterable, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator, conf

from up42_provider.hooks import DEFAULT_CONN_ID
from up42_provider.links import XCOM_JOB_IDS, XCOM_ORDER_IDS, XCOM_PROJECT_ID

__all__ = ["XCOM_JOB_IDS", "XCOM_ORDER_IDS", "XCOM_PROJECT_ID", "UP42BaseOperator"]

if TYPE_CHECKING:
    from airflow.sdk import Context

    from up42_provider.hooks.up42 import UP42Hook

DEFAULT_TIMEOUT = 7 * 24 * 3600.0  # like dbt-cloud: a week; task-level limits go in execution_timeout
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_NAME_PREFIX = 80


def default_deferrable() -> bool:
    """``[operators] default_deferrable`` (False when unset), read when the DAG is parsed."""
    return conf.getboolean("operators", "default_deferrable", fallback=False)


def task_key(context: Context, *parts: object) -> str:
    """A compact (16 hex) key, stable across tries, unique per task instance and ``parts``."""
    ti = context["ti"]
    raw = "\x1f".join(
        [str(ti.dag_id), str(ti.task_id), str(context["run_id"]), str(ti.map_index), *map(str, parts)]
    )
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]


def order_tag(context: Context, index: int) -> str:
    """The client token of the ``index``-th order of a task instance (an UP42 order tag)."""
    return f"airflow-{task_key(context, 'order', index)}"


def job_name(prefix: str | None, context: Context, index: int | None = None) -> str:
    """``<prefix>-<key>[-<index>]``: readable in the UP42 console and unique per task instance."""
    ti = context["ti"]
    base = prefix if prefix else f"{ti.dag_id}.{ti.task_id}"
    base = _NAME_UNSAFE.sub("-", str(base)).strip("-")[:MAX_NAME_PREFIX] or "airflow"
    parts = ("job",) if index is None else ("job", index)
    name = f"{base}-{task_key(context, *parts)}"
    return name if index is None else f"{name}-{index}"


def as_positive_int(value: Any, name: str, *, allow_none: bool = True) -> int | None:
    """Templated numbers arrive as strings: accept "10" as 10, reject anything else clearly."""
    if value is None or value == "":
        if allow_none:
            return None
        raise ValueError(f"{name} is required: pass a positive whole number")
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a positive whole number, got {value!r}")
    try:
        number = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        raise ValueError(f"{name} must be a positive whole number, got {value!r}") from None
    if number < 1:
        raise ValueError(f"{name} must be a positive whole number, got {value!r}")
    return number


def as_bool(value: Any, name: str) -> bool:
    """Templated flags arrive as text without native rendering: accept true/false spellings."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off", "none", ""):
        return False
    raise ValueError(f"{name} must be True or False, got {value!r}")


def as_number(value: Any, name: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None


def as_list(value: Any, name: str) -> list[Any] | None:
    """One item or a list/tuple of items (templated strings stay one item)."""
    if value is None:
        return None
    if isinstance(value, (str, Mapping)):
        return [value]
    if isinstance(value, Iterable):
        return list(value)
    raise ValueError(f"{name} must be a list, got {type(value).__name__}")


def _base_parameters() -> frozenset[str]:
    return frozenset(inspect.signature(BaseOperator.__init__).parameters) - {"self", "kwargs"}


def reject_typos(operator: type, kwargs: Mapping[str, Any]) -> None:
    """Fail at DAG parse time on an argument neither the operator nor ``BaseOperator`` knows,
    naming it and the parameter it most likely meant (``destinaton`` -> ``destination``)."""
    own = [
        name
        for klass in type.mro(operator)
        if klass is not BaseOperator and "__init__" in vars(klass)
        for name in inspect.signature(vars(klass)["__init__"]).parameters
        if name not in ("self", "kwargs")
    ]
    known = set(own) | _base_parameters()
    unknown = [k for k in kwargs if k not in known]
    if not unknown:
        return
    hints = []
    for name in unknown:
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
        hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    raise TypeError(f"{operator.__name__} got unknown argument(s) {', '.join(hints)}")


def require(operator: object, **values: Any) -> None:
    """Fail when a required argument was not given. Required parameters default to None so that a
    misspelt one is reported by :func:`reject_typos` (with its likely meaning) instead of Airflow's
    bare "missing keyword argument"; call this after ``super().__init__``."""
    missing = [name for name, value in values.items() if value is None]
    if missing:
        raise TypeError(f"{type(operator).__name__} needs {', '.join(map(repr, missing))}")


class UP42BaseOperator(BaseOperator):
    """Connection handling and the wait settings of the UP42 operators.

    :param up42_conn_id: Airflow connection of type ``up42``.
    :param wait_for_completion: wait until the orders/jobs are done (the default, as dbt-cloud's
        ``wait_for_termination``); False returns right after creating them (use a sensor then).
    :param deferrable: wait in the triggerer instead of a worker slot (default:
        ``[operators] default_deferrable``).
    :param poll_interval: seconds between status checks while waiting.
    :param timeout: seconds to wait for completion (wall clock, also across deferrals); on
        time-out the task fails but nothing is cancelled on UP42.
    """

    ui_color = "#1f4e79"
    ui_fgcolor = "#ffffff"

    def __init__(
        self,
        *,
        up42_conn_id: str = DEFAULT_CONN_ID,
        wait_for_completion: bool = True,
        deferrable: bool = default_deferrable(),
        poll_interval: float = 60.0,
        timeout: float | None = DEFAULT_TIMEOUT,
        **kwargs: Any,
    ) -> None:
        reject_typos(type(self), kwargs)
        super().__init__(**kwargs)
        self.up42_conn_id = up42_conn_id
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        if as_number(poll_interval, "poll_interval") is None or float(poll_interval) < 0:
            raise ValueError(f"poll_interval must be a non-negative number of seconds, got {poll_interval!r}")
        self.poll_interval = float(poll_interval)
        if timeout is not None and float(timeout) <= 0:
            raise ValueError(f"timeout must be positive seconds or None, got {timeout!r}")
        self.timeout = float(timeout) if timeout is not None else None

    @cached_property
    def hook(self) -> UP42Hook:
        from up42_provider.hooks.up42 import UP42Hook  # the client stack loads when a task runs

        return UP42Hook(up42_conn_id=self.up42_conn_id)

    def end_time(self) -> float | None:
        """Wall-clock deadline of the wait, as epoch seconds (serialised into triggers)."""
        return time.time() + self.timeout if self.timeout is not None else None

    def push_link_ids(self, context: Context, key: str, ids: list[str]) -> None:
        """Ids the extra links read, pushed as soon as they exist (before any wait)."""
        ti = context["ti"]
        ti.xcom_push(key=key, value=list(ids))
        try:
            ti.xcom_push(key=XCOM_PROJECT_ID, value=self.hook.settings.project_id)
        except Exception:  # the link is a convenience; never fail a task over it
            self.log.debug("No UP42 project id for the console link", exc_info=True)
