"""Signed, expiring, single-use approve/reject links for webhook messages: a proposal, a decision and the
approver it acts for, with an expiry and a nonce, signed with HMAC-SHA256 under ADCLUSTER_WEB_SECRET. A
link opens a confirmation page (chat apps fetch links to preview them, so a GET decides nothing); its
POST answers the proposal in that approver's name, once."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
from typing import Literal

from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from app.web.auth import AuthError
from storage.db import session_scope
from storage.models import UsedLink


class LinkClaims(BaseModel):
    proposal_id: str
    decision: Literal["approve", "reject"]
    user: str
    expires: int  # unix seconds
    nonce: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(secret: str, proposal_id: str, decision: str, user: str, *, expires: dt.datetime) -> str:
    claims = LinkClaims(
        proposal_id=proposal_id,
        decision=decision,  # type: ignore[arg-type]
        user=user,
        expires=int(expires.timestamp()),
        nonce=secrets.token_urlsafe(12),
    )
    body = _b64(claims.model_dump_json().encode())
    mac = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def verify(secret: str, token: str, *, now: dt.datetime) -> LinkClaims:
    """The link's claims; AuthError 403 for a forged or damaged link, 410 for an expired one."""
    try:
        body, mac = token.split(".", 1)
        expected = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(mac)):
            raise ValueError("bad signature")
        claims = LinkClaims.model_validate(json.loads(_unb64(body)))
    except (ValueError, ValidationError):
        raise AuthError(403, "this link is not valid (damaged, or not signed by this console)") from None
    if claims.expires <= now.timestamp():
        raise AuthError(410, "this link has expired: answer in the console instead")
    return claims


def use(engine: Engine, claims: LinkClaims, *, now: dt.datetime) -> None:
    """Mark the link used; AuthError 410 if it was used before."""
    try:
        with session_scope(engine) as session:
            session.add(UsedLink(nonce=claims.nonce, proposal_id=claims.proposal_id, used_at=now))
    except IntegrityError:
        raise AuthError(410, "this link was used already") from None


def approval_message(
    items: list[dict[str, object]],
    *,
    thread: str,
    base_url: str,
    secret: str,
    user: str,
    expires: dt.datetime,
) -> dict[str, object]:
    """A Slack-compatible message of the proposals that wait, each with signed approve and reject links."""
    from html import escape

    base = base_url.rstrip("/")
    blocks: list[dict[str, object]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": f"adcluster: {len(items)} change(s) wait for approval"},
        }
    ]
    for item in items[:40]:
        action = item["action"]
        assert isinstance(action, dict)
        pid = str(action["id"])
        entity = action["entity"]
        name = entity.get("name") or entity["platform_id"]
        what = f"{action['kind'].replace('_', ' ')} of {entity['platform']} {entity['level']} {name}"
        yes = f"{base}/link/{sign(secret, pid, 'approve', user, expires=expires)}"
        no = f"{base}/link/{sign(secret, pid, 'reject', user, expires=expires)}"
        reason = escape(str(action.get("reason", "")))[:500]
        text = f"*{escape(what)}*: {reason}\n<{yes}|Approve> · <{no}|Reject>"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    note = (
        f"thread {thread}; links expire {expires:%Y-%m-%d %H:%M} UTC, each works once: "
        f"<{base}/approvals|all in the console>"
    )
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": note}]})
    return {"text": f"adcluster: {len(items)} change(s) wait for approval", "blocks": blocks}
