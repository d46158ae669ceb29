"""Who is acting (the audit actor) and what their role allows."""
from __future__ import annotations

import getpass
import socket
from dataclasses import dataclass, field
from functools import lru_cache

from cxdesk.errors import PermissionDenied

ROLE_RANK = {"staff": 0, "accountant": 1, "supervisor": 2, "admin": 3}

#: capability -> lowest role that has it
CAPABILITIES = {
    "edit_customers": "staff",
    "edit_contacts": "staff",
    "edit_numbers": "staff",
    "adjust_balance": "staff",
    "generate_invoices": "accountant",
    "edit_invoices": "accountant",
    "export": "accountant",
    "import_cdrs": "accountant",
    "view_audit": "supervisor",
    "verify_audit": "supervisor",
    "manage_operators": "admin",
    "edit_settings": "admin",
    "load_demo": "admin",
}


@lru_cache(maxsize=1)
def workstation_ip() -> str:
    """This workstation's address as the audit log shows it (no packets are sent)."""
    try:
        addr = socket.gethostbyname(socket.gethostname())
    except OSError:
        addr = "127.0.0.1"
    return addr


@dataclass(frozen=True)
class Actor:
    login: str
    role: str = "staff"
    display_name: str = ""
    ip: str = field(default_factory=workstation_ip)
    #: system actors (scheduler, CLI) are not asked for an audit comment
    system: bool = False

    def can(self, capability: str) -> bool:
        needed = CAPABILITIES[capability]
        return ROLE_RANK.get(self.role, -1) >= ROLE_RANK[needed]

    def require(self, capability: str) -> None:
        if not self.can(capability):
            needed = CAPABILITIES[capability]
            raise PermissionDenied(
                f"Your role ({self.role}) may not {capability.replace('_', ' ')}; "
                f"ask a user with the {needed} role or higher."
            )


def cli_actor() -> Actor:
    """Command-line changes: whoever can open the database is trusted there (audited as cli:<user>)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Actor(login=f"cli:{user}", role="admin", display_name="Command line", system=True)


PORTAL = Actor(login="Portal", role="staff", display_name="Customer portal", system=True)
