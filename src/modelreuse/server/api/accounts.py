"""``/me`` and ``/tokens``: who the caller's token acts as, and new tokens for the caller."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from modelreuse.errors import PermissionDeniedError
from modelreuse.server.accounts import SCOPES, Principal
from modelreuse.server.deps import ServerState, require_account, server_state
from modelreuse.server.schemas import Me, TokenCreated, TokenRequest

router = APIRouter(tags=["accounts"])


@router.get("/me", response_model=Me)
def me(principal: Principal = Depends(require_account())) -> Me:
    """The user and scopes of the token sent."""
    return Me(user=principal.user, scopes=sorted(principal.scopes, key=SCOPES.index), is_admin=principal.is_admin)


@router.post("/tokens", status_code=201, response_model=TokenCreated,
             responses={403: {"description": "a scope larger than the caller's"}})
def create_token(request: TokenRequest, principal: Principal = Depends(require_account()),
                       state: ServerState = Depends(server_state)) -> TokenCreated:
    """A new token for the caller, with scopes no larger than the token sent (shown once)."""
    larger = [scope for scope in request.scopes if not principal.has(scope)]
    if larger:
        raise PermissionDeniedError(f"a token may not grant more than the one that creates it: {larger} exceed "
                                    f"{sorted(principal.scopes)}")
    token = state.accounts.create_token(principal.user, request.scopes, label=request.label)
    return TokenCreated(token=token, user=principal.user, scopes=sorted(set(request.scopes), key=SCOPES.index))
