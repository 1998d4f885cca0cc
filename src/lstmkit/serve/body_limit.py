"""The request-size limit: an ASGI middleware that answers 413 before the application parses a body.

A body is refused from its Content-Length header without reading it, or, sent without one
(chunked), as soon as the bytes received pass the limit; a body within the limit is collected and
handed on whole. (Starlette's own limit middleware answers a declared-too-large body in plain text;
this one answers with the JSON error every other refusal of the server uses.)
"""
from starlette.datastructures import Headers
from starlette.responses import JSONResponse


class BodyLimit:
    """Refuse HTTP request bodies over `limit` bytes with 413 and a one-line JSON error.

    Args:
        app: the ASGI application behind it.
        limit: the most bytes a request body may have.

    Example:
        >>> from fastapi import FastAPI
        >>> app = FastAPI()
        >>> app.add_middleware(BodyLimit, limit=1 << 20)
    """

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            return await self._refuse(f"{declared} bytes")(scope, receive, send)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client left before its body was complete
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                return await self._refuse("more (sent without Content-Length)")(scope, receive, send)
            chunks.append(chunk)
            more = message.get("more_body", False)
        delivered = False

        async def replay():
            nonlocal delivered
            if delivered:
                return await receive()  # after the body: wait for the client to disconnect
            delivered = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)

    def _refuse(self, got: str) -> JSONResponse:
        return JSONResponse({"error": f"request body: expected at most {self.limit} bytes, got {got}"},
                            status_code=413)
