"""The instance's own random secrets, generated at the first start and kept in its database.

Every process of one instance (uvicorn workers, the CLI) reads the same value, and no
deployment can run on a constant: there is nothing to configure and nothing to forget.
"""

from __future__ import annotations

import secrets

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from yidan.store.models import InstanceSecret

SESSION_SECRET = "session"


def instance_secret(engine: Engine, name: str = SESSION_SECRET) -> str:
    """The secret called `name`, created (256 random bits) if this instance has none yet.

    Two processes starting at once may both try to create it; the loser reads the winner's."""
    with engine.connect() as conn:
        found = conn.scalar(select(InstanceSecret.value).where(InstanceSecret.name == name))
        if found:
            return str(found)
        value = secrets.token_urlsafe(48)
        try:
            conn.execute(InstanceSecret.__table__.insert().values(name=name, value=value))  # type: ignore[attr-defined]
            conn.commit()
            return value
        except IntegrityError:
            conn.rollback()
        found = conn.scalar(select(InstanceSecret.value).where(InstanceSecret.name == name))
        assert found, f"instance secret {name} vanished"
        return str(found)
