"""Who is acting (the audit actor) and what their role allows."""
from __future__ import annotations

import getpass
import os
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


def os_user() -> str:
    """The operating-system account running this process: from the process's user id where
    the platform has one, so LOGNAME/USER cannot rename it; else getpass's answer."""
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError, OSError):
        pass
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


#: the audit log's ip column holds at most this many characters
IP_SIZE = 45


def cli_ip(ip: str | None = None) -> str:
    """The audit ip of a command-line change: the address and, beside it, the OS user
    ("10.0.0.5 (cli:bob)"); the actor column keeps the operator's login. A long user name
    is shortened (ending in "~") so the text fits the column."""
    ip = ip or workstation_ip()
    user = os_user()
    room = IP_SIZE - len(ip) - len(" (cli:)")
    if len(user) > room:
        user = user[:max(room - 1, 0)] + "~"
    return f"{ip} (cli:{user})"[:IP_SIZE]


def cli_actor() -> Actor:
    """Command-line changes on a database with no operator yet (being set up), and
    read-only commands: audited as cli:<OS user>."""
    return Actor(login=f"cli:{os_user()}", role="admin", display_name="Command line", system=True)


PORTAL = Actor(login="Portal", role="staff", display_name="Customer portal", system=True)
