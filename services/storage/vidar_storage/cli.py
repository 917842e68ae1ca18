"""`vidar-storage serve`: run the storage service."""

from vidar.cli import run_asgi, service_cli
from vidar_storage.app import create_app
from vidar_storage.settings import StorageSettings


def serve() -> None:
    """Consume the archive events until SIGINT or SIGTERM; health probes on VIDAR_HOST:VIDAR_PORT."""
    settings = StorageSettings()
    run_asgi(create_app(settings), settings)


app = service_cli("vidar storage: source files, probing, screenshots, URL fetches.", serve)
