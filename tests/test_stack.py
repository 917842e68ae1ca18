"""The tests' own stack: a port taken between its choice and its use costs a retry, not a run."""

import dataclasses
import socket
from pathlib import Path

import pytest

from tests.stack import servers
from vidar.devstack.servers import HOST, Ports

pytestmark = pytest.mark.integration


def test_servers_start_on_fresh_ports_when_a_chosen_one_is_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    choose = Ports.free
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        taken_port = taken.getsockname()[1]
        chosen: list[Ports] = []

        def free() -> Ports:
            ports = choose()
            # The volume server's port (see vidar.devstack.servers): SeaweedFS exits at once.
            internal = (ports.weed_internal[0], taken_port, *ports.weed_internal[2:])
            chosen.append(dataclasses.replace(ports, weed_internal=internal) if not chosen else ports)
            return chosen[-1]

        monkeypatch.setattr(Ports, "free", staticmethod(free))
        with servers(tmp_path) as ports:
            assert len(chosen) == 2
            assert ports == chosen[1]
            assert taken_port not in ports.weed_internal
