"""The signed-in user, as passed to every service call."""

from __future__ import annotations

from dataclasses import dataclass

from iopdesk.models.enums import Role


@dataclass(frozen=True)
class Actor:
    user_id: int
    username: str
    display_name: str
    roles: frozenset[Role]
    staff_id: int | None = None

    @property
    def role_label(self) -> str:
        order = [r for r in Role if r in self.roles]
        return ", ".join(r.value.replace("_", " ").title() for r in order)

    def is_(self, role: Role) -> bool:
        return role in self.roles


def parse_roles(text: str) -> frozenset[Role]:
    """'therapist, supervisor' -> {Role.THERAPIST, Role.SUPERVISOR}; ValueError if unknown."""
    roles: set[Role] = set()
    for part in text.replace(";", ",").split(","):
        name = part.strip().lower().replace(" ", "_").replace("-", "_")
        if not name:
            continue
        try:
            roles.add(Role(name))
        except ValueError:
            valid = ", ".join(r.value for r in Role)
            raise ValueError(f"Unknown role '{part.strip()}'. Valid roles: {valid}.") from None
    return frozenset(roles)


def roles_text(roles: frozenset[Role]) -> str:
    return ",".join(r.value for r in Role if r in roles)
