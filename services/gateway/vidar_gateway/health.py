"""Liveness and readiness probes: no token needed."""

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from vidar import mongo
from vidar.bus import is_connected
from vidar_gateway.deps import RuntimeDep

router = APIRouter(tags=["health"])
_PROBE_TIMEOUT = 2.0


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz", summary="MongoDB, NATS and S3 answer", responses={503: {"description": "a server is unreachable"}}
)
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    async def nats() -> None:
        if not is_connected(runtime.broker):
            raise ConnectionError("not connected")

    probes = {"mongodb": mongo.ping(runtime.mongo), "nats": nats(), "s3": runtime.objects.bucket_exists()}
    results = await asyncio.gather(
        *(asyncio.wait_for(probe, _PROBE_TIMEOUT) for probe in probes.values()), return_exceptions=True
    )
    checks = {
        name: "ok" if not isinstance(result, BaseException) else f"unreachable: {result!r}"
        for name, result in zip(probes, results, strict=True)
    }
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks}, status_code=200 if ready else 503
    )
