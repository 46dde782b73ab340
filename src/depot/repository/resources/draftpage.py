"""The owner's draft page, ``/deposit/{id}`` (``links.html`` of a draft, ``latest_draft_html``).

Zenodo shows its deposit form there and sends an anonymous visitor to its login page. Depot has no
login page or session: the caller's token (header or ``?access_token=``) identifies the owner, and an
anonymous visitor gets a 401 page that says how to pass one (docs/api.md).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from depot.repository.context import Context
from depot.repository.errors import NotFoundError, PermissionDeniedError
from depot.repository.resources.http import identity
from depot.repository.resources.pages import not_found, render, size_label
from depot.repository.services.ids import parse_id

STATE_LABELS = {"unsubmitted": "not published yet", "inprogress": "published, edit open",
                "done": "published, no edit open"}


def routes(ctx: Context) -> list[BaseRoute]:
    async def draft_page(request: Request) -> Response:
        deposit_id = parse_id(request.path_params["id"])
        if deposit_id is None:
            return not_found("There is no deposit at this address.")
        who = identity(request)
        if not who.authenticated:
            response = render("login_required.html", 401, title="Log in to see this draft",
                              message="A draft is visible to its owner only.")
            response.headers["WWW-Authenticate"] = 'Bearer realm="depot"'
            return response
        try:
            deposit = ctx.deposits.read(who, deposit_id)
        except NotFoundError:
            return not_found("There is no deposit at this address.")
        except PermissionDeniedError:
            return render("login_required.html", 403, title="Not your draft",
                          message="This draft belongs to another user; only its owner may see it.")
        meta = deposit.current
        creators = "; ".join(str(c.get("name")) for c in meta.get("creators") or [] if isinstance(c, dict))
        return render(
            "draft.html", title=meta.get("title") or f"Untitled draft {deposit.id}", id=deposit.id,
            state=deposit.state, state_label=STATE_LABELS.get(deposit.state, deposit.state),
            modified=deposit.modified, doi=deposit.doi, reserved_doi=ctx.links.prereserved_doi(deposit.id),
            creators=creators, upload_type=meta.get("upload_type"),
            files=[{"key": f.key, "size_label": size_label(f.size), "md5": f.md5} for f in deposit.files],
            api_url=ctx.links.deposit(deposit.id),
            record_url=f"/records/{deposit.id}" if deposit.is_published else None)

    return [Route("/deposit/{id}", draft_page, methods=["GET"])]
