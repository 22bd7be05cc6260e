"""The common sensor of orders and jobs: poke, reschedule or defer, all on one state machine.

Deferrable mode checks once before deferring (a finished order never costs a trigger), and puts
the sensor's wall-clock ``timeout`` into the trigger as ``end_time``. Poke and reschedule modes use
:class:`~airflow.sdk.BaseSensorOperator`'s own loop and time-out. Either way a terminal failure
fails the task at once, without retries, with UP42's message (jobs: the failed task's log tail).
"""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseSensorOperator, Context
from airflow.sdk.bases.sensor import PokeReturnValue
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSensorTimeout

from up42_provider.hooks import DEFAULT_CONN_ID
from up42_provider.operators._common import default_deferrable, reject_typos
from up42_provider.utils.ids import parse_ids
from up42_provider.waiters import CHECKS, WaitResult, WaitState, end_time_after, is_transient
from up42_provider.waiting import wait_or_defer

if TYPE_CHECKING:
    from up42_provider.hooks.up42 import UP42Hook

# Airflow's own deferral time-out is a backstop behind the trigger's end_time, never first.
DEFERRAL_GRACE_SECONDS = 60.0


class UP42StatusSensor(BaseSensorOperator):
    """Base of :class:`UP42OrderFulfilledSensor` and :class:`UP42JobSucceededSensor`."""

    kind: ClassVar[str]
    ids_field: ClassVar[str]
    ui_color = "#c9e4f7"

    def __init__(
        self,
        *,
        up42_conn_id: str = DEFAULT_CONN_ID,
        deferrable: bool | None = None,
        poll_interval: float = 60.0,
        **kwargs: Any,
    ) -> None:
        reject_typos(type(self), kwargs)
        kwargs.setdefault("poke_interval", poll_interval)
        super().__init__(**kwargs)
        self.up42_conn_id = up42_conn_id
        self.deferrable = default_deferrable() if deferrable is None else bool(deferrable)
        self.poll_interval = float(poll_interval)

    @cached_property
    def hook(self) -> UP42Hook:
        from up42_provider.hooks.up42 import UP42Hook  # the client stack loads when a task runs

        return UP42Hook(up42_conn_id=self.up42_conn_id)

    def wanted_ids(self) -> list[str]:
        return parse_ids(getattr(self, self.ids_field), name=self.ids_field)

    def check(self) -> WaitState:
        return CHECKS[self.kind](self.hook, self.wanted_ids())

    def _judge(self, state: WaitState) -> bool:
        """True when done; raises at a terminal failure (retrying cannot change it)."""
        if state.failed:
            raise AirflowFailException(state.failure_message())
        if state.done:
            self.log.info("UP42 %ss done: %s", self.kind, state.describe())
            return True
        self.log.info("Waiting for UP42 %ss: %s", self.kind, state.describe(state.running))
        return False

    def poke(self, context: Context) -> bool | PokeReturnValue:
        try:
            state = self.check()
        except Exception as exc:
            if not is_transient(exc):
                raise
            self.log.warning("Checking UP42 failed (%s); trying again at the next poke", exc)
            return False
        return PokeReturnValue(True, state.to_dict()) if self._judge(state) else False

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        result = wait_or_defer(
            self,
            context,
            self.kind,
            self.wanted_ids(),
            hook=self.hook,
            deferrable=True,
            poll_interval=self.poll_interval,
            end_time=end_time_after(self.timeout),
            defer_timeout=timedelta(
                seconds=self.timeout + max(DEFERRAL_GRACE_SECONDS, 2 * self.poll_interval)
            ),
        )
        return self._finish(result)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after the trigger fired: the state on success, else the matching failure."""
        return self._finish(WaitResult.from_event(event))

    def _finish(self, result: WaitResult) -> dict[str, Any]:
        if result.status == "success" and result.state is not None:
            self.log.info("%s", result.message)
            return result.state.to_dict()
        if result.status == "timeout":
            raise AirflowSensorTimeout(f"Sensor has timed out after {self.timeout:g} s: {result.message}")
        if result.status == "failure":
            raise AirflowFailException(result.message)
        if result.error is not None:
            raise result.error
        raise AirflowException(result.message or "UP42 trigger failed")
