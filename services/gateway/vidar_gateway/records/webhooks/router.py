"""/webhooks/: viewers read, admins write; a webhook's secret is shown once, when it is created."""

from typing import Annotated

from fastapi import Body, Path, Query, Response

from vidar.models.video import Count
from vidar.models.webhooks import CreatedWebhook, Webhook, WebhookCreate, WebhookPage, WebhookPatch
from vidar_gateway.deps import api_router, json_body
from vidar_gateway.params import IdParam
from vidar_gateway.records.listing import RecordPageParams
from vidar_gateway.records.webhooks.deps import WebhooksRepo, admin_writes

router = api_router("/webhooks", "webhooks")
router.dependencies.append(admin_writes)
WebhookId = Annotated[IdParam, Path(description="Webhook ID.")]


def present(doc: dict) -> Webhook:
    return Webhook.model_validate({**doc, "id": doc["_id"]})


@router.get("/", summary="List webhooks")
async def list_webhooks(query: Annotated[RecordPageParams, Query()], webhooks: WebhooksRepo) -> WebhookPage:
    found = await webhooks.page(query)
    return WebhookPage(next_page=found.next_page, prev_page=found.prev_page, results=[present(r) for r in found.rows])


@router.get("/count/", summary="Count webhooks")
async def count_webhooks(webhooks: WebhooksRepo) -> Count:
    return Count(count=await webhooks.count())


@router.post(
    "/",
    status_code=201,
    summary="Add a webhook (its secret, generated if not given, is shown once)",
    dependencies=[json_body],
)
async def create_webhook(data: Annotated[WebhookCreate, Body()], webhooks: WebhooksRepo) -> CreatedWebhook:
    doc = await webhooks.create(data)
    return CreatedWebhook.model_validate({**doc, "id": doc["_id"]})


@router.get("/{webhook_id}/", summary="Get a webhook")
async def get_webhook(webhook_id: WebhookId, webhooks: WebhooksRepo) -> Webhook:
    return present(await webhooks.get(webhook_id))


@router.patch("/{webhook_id}/", summary="Update a webhook", dependencies=[json_body])
async def patch_webhook(
    webhook_id: WebhookId, data: Annotated[WebhookPatch, Body()], webhooks: WebhooksRepo
) -> Webhook:
    return present(await webhooks.patch(webhook_id, data))


@router.delete("/{webhook_id}/", status_code=204, summary="Delete a webhook")
async def delete_webhook(webhook_id: WebhookId, webhooks: WebhooksRepo) -> Response:
    await webhooks.delete(webhook_id)
    return Response(status_code=204)
