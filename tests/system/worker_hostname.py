"""``[core] hostname_callable`` of the system test's Celery workers: each worker names itself.

Two workers on one machine would otherwise report the same hostname; the test tells the task instances
of one worker from the other's by this name (``UP42_SYSTEM_WORKER_HOSTNAME`` in the worker's environment).
"""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    return os.environ.get("UP42_SYSTEM_WORKER_HOSTNAME") or socket.getfqdn()
