"""`/healthz`, `/readyz` and `/metrics` for the services that are bus consumers (FastStream ASGI apps)."""

from typing import Any

from faststream.asgi import AsgiResponse, get, make_ping_asgi
from faststream.nats import NatsBroker

from vidar.metrics import metrics_route


@get
async def _alive(scope: Any) -> AsgiResponse:
    return AsgiResponse(b"ok", 200)


def health_routes(broker: NatsBroker) -> list[tuple[str, Any]]:
    """Alive: the process answers. Ready: its broker reaches NATS (204, else 500). Metrics."""
    return [("/healthz", _alive), ("/readyz", make_ping_asgi(broker, timeout=2.0)), metrics_route()]
