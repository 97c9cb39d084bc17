"""The qualification policy, versioned."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from triage import domain
from triage.server import models
from triage.server.db import utcnow
from triage.server.suggest import scoring


class PolicyMixin:
    """The current policy (cached by version), and setting a new one."""

    def _policy(self, s: Session) -> domain.Policy:
        doc = s.execute(
            select(models.PolicyDoc).order_by(models.PolicyDoc.version.desc()).limit(1)
        ).scalar_one_or_none()
        if doc is None:
            return domain.DEFAULT_POLICY
        cached = self._policy_cache
        if cached is not None and cached[0] == doc.version:
            return cached[1]
        policy = domain.Policy.from_dict(doc.body, version=doc.version)
        self._policy_cache = (doc.version, policy)
        return policy

    def policy(self) -> domain.Policy:
        with self.db.read() as s:
            return self._policy(s)

    def set_policy(self, policy: domain.Policy) -> domain.Policy:
        """Store `policy` as the next version; the same content as the current policy is no
        change and keeps its version (a new version makes every client refetch it)."""
        with self.db.write() as s:
            current = self._policy(s)
            body = policy.to_dict()
            if {**body, "version": current.version} == current.to_dict():
                return current
            version = current.version + 1
            body["version"] = version
            s.add(models.PolicyDoc(version=version, body=body, created_at=utcnow()))
            if policy.suggestions != current.suggestions:  # reps pull what now shows, or not
                scoring.resend(s, current.suggestions, policy.suggestions)
        return domain.Policy.from_dict(body, version=version)
