"""The job domain's layering: the lifecycle does no I/O, and nothing hooks every session of the process."""

from __future__ import annotations

import subprocess
import sys


def test_the_lifecycle_imports_no_database_web_or_broker_library() -> None:
    probe = (
        "import sys, coordinator.jobs.lifecycle, coordinator.jobs.reports, coordinator.jobs.rows; "
        "print(sorted(m for m in ('sqlalchemy', 'sqlmodel', 'flask', 'paho') if m in sys.modules))"
    )
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"


def test_no_listener_is_registered_on_the_session_class_itself() -> None:
    probe = (
        "import coordinator.app, coordinator.mqtt.service, coordinator.dashboard.views; "
        "from sqlalchemy.orm import Session; "
        "hooks = [getattr(Session.dispatch, n) for n in dir(Session.dispatch) if not n.startswith('_')]; "
        "print(sorted(h.name for h in hooks if any(getattr(h, '_clslevel', {}).values())))"
    )
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"
