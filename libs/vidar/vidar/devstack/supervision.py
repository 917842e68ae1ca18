"""supervisord's configuration for `make run`: a process that dies is started again, the others
keep running, and a stop takes each process's whole process group with it.

A process that dies after running `STARTSECS` is started again at once; one that dies sooner is
retried after 1 s, 2 s, 3 s ... (supervisord's backoff grows by a second a try), so a process
that cannot start never spins hot, and never stops the others. The embedded servers'
output goes to files under the data dir; the services' output goes there too and, prefixed with
the service's name, to the terminal (`vidar.devstack.prefixed_output`).
"""

import configparser
import os
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from secrets import token_urlsafe

# A process that stays up this long counts as started: it is restarted at once when it dies.
STARTSECS = 5
# Start tries in a row before supervisord gives up (FATAL): with the backoff, about a week.
STARTRETRIES = 1000
# SIGTERM, then SIGKILL to the process group after this long (the MongoDB-wire server needs ~2 s).
STOPWAITSECS = 15
SERVERS_GROUP = "servers"
SERVICES_GROUP = "services"
OUTPUT_LISTENER = "output"


@dataclass(frozen=True)
class Program:
    name: str
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Supervision:
    """Where one `make run` keeps supervisord's files."""

    data_dir: Path

    @property
    def config_path(self) -> Path:
        return self.data_dir / "supervisord.conf"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def socket_path(self) -> Path:
        return self.data_dir / "supervisord.sock"

    def write_config(self, servers: list[Program], services: list[Program]) -> Path:
        """The config file, readable by its owner only: it holds the control socket's password,
        which `supervisorctl -c <the file>` reads."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        config = configparser.RawConfigParser()
        config.read_dict(self._sections(servers, services, password=token_urlsafe(24)))
        self.config_path.unlink(missing_ok=True)
        with os.fdopen(os.open(self.config_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
            config.write(file)
        return self.config_path

    def _sections(self, servers: list[Program], services: list[Program], password: str) -> dict[str, dict[str, str]]:
        credentials = {"username": "vidar", "password": password}
        width = max(len(program.name) for program in services)
        sections = {
            "supervisord": {
                "nodaemon": "true",
                "logfile": str(self.log_dir / "supervisord.log"),
                "pidfile": str(self.data_dir / "supervisord.pid"),
                "childlogdir": str(self.log_dir),
                # Said outright, supervisord does not warn that it runs as root (containers do).
                **({"user": "root"} if os.geteuid() == 0 else {}),
            },
            "unix_http_server": {"file": str(self.socket_path), "chmod": "0700", **credentials},
            "supervisorctl": {"serverurl": f"unix://{self.socket_path}", **credentials},
            "rpcinterface:supervisor": {
                "supervisor.rpcinterface_factory": "supervisor.rpcinterface:make_main_rpcinterface"
            },
            # The listener starts first and stops last, so it echoes the services' last words.
            f"eventlistener:{OUTPUT_LISTENER}": {
                "command": shlex.join([sys.executable, "-m", "vidar.devstack.prefixed_output", str(width)]),
                "events": "PROCESS_LOG",
                # Lines are dropped when more events wait than this; a burst of logs is far fewer.
                "buffer_size": "10000",
                "autorestart": "true",
                # Its stdout carries supervisord's event protocol, nothing to keep.
                "stdout_logfile": "NONE",
                "stderr_logfile": "/dev/stdout",
                "stderr_logfile_maxbytes": "0",
            },
            # Services stop first, then the servers; each group's processes stop together.
            f"group:{SERVICES_GROUP}": {"programs": ",".join(program.name for program in services), "priority": "20"},
            f"group:{SERVERS_GROUP}": {"programs": ",".join(program.name for program in servers), "priority": "10"},
        }
        for program in servers:
            sections[f"program:{program.name}"] = self._program(program, on_terminal=False)
        for program in services:
            sections[f"program:{program.name}"] = self._program(program, on_terminal=True)
        return {name: {key: _escaped(value) for key, value in options.items()} for name, options in sections.items()}

    def _program(self, program: Program, *, on_terminal: bool) -> dict[str, str]:
        environment = ",".join(f'{key}="{value}"' for key, value in program.env.items())
        return {
            "command": shlex.join(program.command),
            **({"environment": environment} if environment else {}),
            "autorestart": "true",
            "startsecs": str(STARTSECS),
            "startretries": str(STARTRETRIES),
            "stopwaitsecs": str(STOPWAITSECS),
            "stopasgroup": "true",
            "killasgroup": "true",
            "redirect_stderr": "true",
            "stdout_logfile": str(self.log_dir / f"{program.name}.log"),
            "stdout_logfile_maxbytes": "20MB",
            "stdout_logfile_backups": "2",
            "stdout_events_enabled": str(on_terminal).lower(),
        }


def _escaped(value: str) -> str:
    """supervisord expands `%(name)s` in its values."""
    return value.replace("%", "%%")
