"""The HTTP ceiling: a bare FastAPI app served exactly like Convobase (uvicorn, one worker).

GET /echo answers a small JSON object; POST /echo validates a JSON body like a message append
and returns it. Convobase's numbers are reported as a ratio to these, measured in the same run.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()


class Body(BaseModel):
    role: str
    content: str


@app.get("/echo")
async def echo() -> dict[str, Any]:
    return {
        "id": "01900000-0000-7000-8000-000000000000",
        "email": "echo@example.com",
        "name": None,
        "role": "user",
        "disabled": False,
    }


@app.post("/echo", status_code=201)
async def echo_post(body: Body) -> Body:
    return body
