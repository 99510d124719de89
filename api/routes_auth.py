"""Logging in: ``POST /api/auth/token`` (OAuth2 password flow) and who am I."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from api import auth_store
from api.auth import authenticate, create_token
from api.deps import TOKEN_COOKIE, BadRequest, ContextDep, CurrentUser
from api.schemas import ErrorOut, Token, TokenRequest, UserPublic

router = APIRouter(prefix="/api/auth", tags=["auth"])

FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
JSON = "application/json"

_FORM_SCHEMA = {
    "type": "object",
    "required": ["username", "password"],
    "properties": {
        "grant_type": {"type": "string", "pattern": "^password$"},
        "username": {"type": "string"},
        "password": {"type": "string", "format": "password"},
        "scope": {"type": "string", "default": ""},
    },
}


async def _credentials(request: Request) -> TokenRequest:
    """The user name and password, from an OAuth2 form or from a JSON body."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    data: Any
    if content_type == JSON:
        try:
            data = await request.json()
        except ValueError:
            raise BadRequest("the body is not valid JSON") from None
    elif content_type in (FORM, MULTIPART):
        form = await request.form()
        data = {k: v for k, v in form.items() if isinstance(v, str)}
        grant = data.get("grant_type")
        if grant not in (None, "", "password"):
            raise BadRequest(f"unsupported grant_type {grant!r}: only 'password'")
    else:
        raise BadRequest(f"send the login as {FORM} (OAuth2) or {JSON}")
    if not isinstance(data, dict):
        raise BadRequest("send an object with username and password")
    try:
        return TokenRequest.model_validate(data)
    except ValidationError:
        raise BadRequest("username and password are required") from None


@router.post(
    "/token",
    summary="Log in: a bearer token for a user name and password",
    response_model=Token,
    responses={
        400: {"model": ErrorOut, "description": "no user name or password in the request"},
        401: {"model": ErrorOut, "description": "wrong user name or password"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                FORM: {"schema": _FORM_SCHEMA},
                JSON: {"schema": TokenRequest.model_json_schema()},
            },
        }
    },
)
async def login(request: Request, response: Response, context: ContextDep) -> Token:
    """The OAuth2 password flow: a form with ``username`` and ``password`` (what Swagger UI,
    QGIS and other OAuth2 clients send), or the same two fields as JSON. The token goes in
    ``Authorization: Bearer <token>``; it is also set as an HttpOnly cookie, which pages use
    to load in the browser (reads only)."""
    creds = await _credentials(request)
    settings = context.settings
    user = await run_in_threadpool(authenticate, context.engine, creds.username, creds.password)
    token, lifetime = create_token(user, settings)  # real time: jwt checks expiry by it

    def log() -> None:
        with context.engine.begin() as conn:
            auth_store.record(conn, user.name, "login", user.name, None, at=context.now())

    await run_in_threadpool(log)
    response.set_cookie(
        TOKEN_COOKIE,
        token,
        max_age=lifetime,
        httponly=True,
        samesite="strict",
        secure=not settings.is_development,
        path="/",
    )
    response.headers["Cache-Control"] = "no-store"
    return Token(access_token=token, expires_in=lifetime, role=user.role)


@router.post(
    "/logout",
    summary="Log out of the browser: forget the login cookie",
    status_code=204,
)
def logout() -> Response:
    """Tokens held by API clients stay valid until they expire; disable the user to end
    them at once."""
    response = Response(status_code=204)
    response.delete_cookie(TOKEN_COOKIE, path="/")
    return response


@router.get(
    "/me",
    summary="The logged-in user",
    response_model=UserPublic,
    responses={401: {"model": ErrorOut}},
)
def me(user: CurrentUser) -> UserPublic:
    return UserPublic(
        name=user.name, role=user.role, created_at=user.created_at, disabled=user.disabled
    )
