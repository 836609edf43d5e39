"""A fake Amazon Bedrock: Converse, ConverseStream (real AWS event-stream frames), InvokeModel
for Titan and Cohere embeddings, ListFoundationModels, and the REST-JSON error format
(`{"message"}` body, `x-amzn-ErrorType` header).

Every request's SigV4 signature is recomputed with botocore from what arrived on the wire
(method, raw path, signed headers, body) and the fake's own copy of the secret key: a
request signed over anything but the bytes actually sent is refused, as AWS refuses it.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .base import (
    FakeProvider,
    HttpError,
    Reply,
    StreamWire,
    Thinking,
    TruncatedStream,
    split_text,
)
from .bedrock_checks import Issued, check
from .bedrock_wire import (
    content,
    corrupt,
    event,
    exception,
    stop_reason,
    stream_frames,
    text_delta,
    usage,
)
from .embeddings import fake_vector

__all__ = ["AUTH_RE", "FakeBedrock", "StreamException", "bedrock_error", "corrupt", "event"]

AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<akid>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), "
    r"Signature=(?P<sig>[0-9a-f]{64})$"
)


@dataclass
class StreamException:
    """Stream `text`, then an exception event (`throttlingException`, ...)."""

    name: str = "modelStreamErrorException"
    message: str = "The model stream failed."
    text: str = "partial"


def bedrock_error(status: int, name: str, message: str) -> HttpError:
    return HttpError(
        status,
        {"message": message},
        {
            "x-amzn-ErrorType": f"{name}:http://internal.amazon.com/coral/com.amazon.bedrock/",
            "x-amzn-RequestId": str(uuid.uuid4()),
        },
    )


class FakeBedrock(FakeProvider):
    def __init__(
        self,
        access_key_id: str = "AKIAFAKEEXAMPLE12345",
        secret_access_key: str = "fake/secret+access/key/EXAMPLEKEY0123456789",
        session_token: str | None = None,
        region: str = "eu-west-3",
        bearer_token: str | None = None,
    ) -> None:
        super().__init__(api_key=bearer_token)
        self.access_key_id = access_key_id
        self.secret_access_key = secret_access_key
        self.session_token = session_token
        self.region = region
        self.signature_failures: list[str] = []
        self.issued = Issued()  # reasoning signatures sent, checked when they come back
        self.validation_failures: list[str] = []

    def env(self) -> dict[str, str]:
        """The environment a daemon needs to reach this fake with these credentials."""
        env = {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_REGION": self.region,
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": self.base_url,
            "AWS_ENDPOINT_URL_BEDROCK": self.base_url,
        }
        if self.session_token:
            env["AWS_SESSION_TOKEN"] = self.session_token
        return env

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/model/{model_id}/converse", self.converse),
            web.post("/model/{model_id}/converse-stream", self.converse_stream),
            web.post("/model/{model_id}/invoke", self.invoke),
            web.get("/foundation-models", self.foundation_models),
        ]

    # -- authentication ------------------------------------------------------------------

    def auth_failure(self, request: web.Request, body: bytes) -> str | None:
        """Why the request's credentials are refused, or None when they are good."""
        authorization = request.headers.get("Authorization", "")
        if self.api_key is not None and authorization == f"Bearer {self.api_key}":
            return None
        match = AUTH_RE.match(authorization)
        if match is None:
            return "missing or malformed SigV4 Authorization header"
        if match["akid"] != self.access_key_id:
            return "unknown access key id"
        if match["region"] != self.region or match["service"] != "bedrock":
            return f"credential scope {match['region']}/{match['service']} is wrong"
        amz_date = request.headers.get("X-Amz-Date", "")
        if not amz_date.startswith(match["date"]):
            return "X-Amz-Date does not match the credential scope date"
        if self.session_token and request.headers.get("X-Amz-Security-Token") != (
            self.session_token
        ):
            return "missing or wrong X-Amz-Security-Token"
        expected = self._signature(request, body, match["signed"].split(";"), amz_date)
        if expected != match["sig"]:
            return "signature mismatch"
        return None

    def _signature(
        self, request: web.Request, body: bytes, signed: list[str], amz_date: str
    ) -> str:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        headers = {name: request.headers.get(name, "") for name in signed}
        aws = AWSRequest(
            method=request.method,
            url=f"http://{request.host}{request.raw_path}",
            data=body,
            headers=headers,
        )
        aws.context["timestamp"] = amz_date
        signer = SigV4Auth(
            Credentials(self.access_key_id, self.secret_access_key, self.session_token),
            "bedrock",
            self.region,
        )
        canonical = signer.canonical_request(aws)
        return str(signer.signature(signer.string_to_sign(aws, canonical), aws))

    async def _authorised_body(self, request: web.Request) -> tuple[Any, web.Response | None]:
        raw = await request.read()
        body = await self.record(request)
        failure = self.auth_failure(request, raw)
        if failure is None:
            return body, None
        self.signature_failures.append(failure)
        if failure == "unknown access key id":
            err = bedrock_error(
                403,
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
        else:
            err = bedrock_error(
                403,
                "InvalidSignatureException",
                f"The request signature we calculated does not match ({failure}).",
            )
        return body, self.error_response(err)

    def _request_id(self) -> dict[str, str]:
        return {"x-amzn-RequestId": str(uuid.uuid4())}

    # -- Converse ------------------------------------------------------------------------

    def _echo(self, body: dict[str, Any]) -> str:
        for message in reversed(body.get("messages", [])):
            if message["role"] == "user":
                texts = [b["text"] for b in message["content"] if "text" in b]
                if texts:
                    return texts[-1]
        return "ok"

    async def _behaviour(self, request: web.Request) -> tuple[Any, Any]:
        body, refused = await self._authorised_body(request)
        if refused is not None:
            return body, refused
        if request.path.endswith(("/converse", "/converse-stream")):
            failure = check(body, request.match_info["model_id"], self.issued)
            if failure is not None:
                self.validation_failures.append(failure)
                return body, self.error_response(bedrock_error(400, "ValidationException", failure))
        behaviour = self.next_behaviour(Reply(text=self._echo(body)))
        if isinstance(behaviour, Reply):
            self._issue(behaviour)
        return body, self.canned(behaviour) or behaviour

    def _issue(self, reply: Reply) -> None:
        for block in reply.blocks:
            if isinstance(block, Thinking) and block.signature is not None:
                self.issued.signatures.add(block.signature)
            if isinstance(block, Thinking) and block.redacted is not None:
                self.issued.redacted.add(block.redacted)

    def wire(self) -> StreamWire:
        """ConverseStream: messageStop carries the stop reason, the `metadata` event after
        it the usage and ends the stream."""
        return StreamWire(
            content_type="application/vnd.amazon.eventstream",
            opener=[event("messageStart", {"role": "assistant"})],
            delta=text_delta,
            finish=lambda reply: [
                event("contentBlockStop", {"contentBlockIndex": 0}),
                event("messageStop", {"stopReason": stop_reason(reply)}),
            ],
            end=[event("metadata", {"usage": usage(Reply()), "metrics": {"latencyMs": 9}})],
            malformed=corrupt(text_delta("lost ")),
        )

    async def converse(self, request: web.Request) -> web.StreamResponse:
        _, behaviour = await self._behaviour(request)
        if isinstance(behaviour, web.StreamResponse):
            return behaviour
        fault = await self.play_fault(request, behaviour, False, self.wire())
        if fault is not None:
            return fault
        behaviour = self.as_reply(behaviour)
        await self.sleep(behaviour.delay_s)
        return web.json_response(
            {
                "output": {"message": {"role": "assistant", "content": content(behaviour)}},
                "stopReason": stop_reason(behaviour),
                "usage": usage(behaviour),
                "metrics": {"latencyMs": 321},
            },
            headers=self._request_id(),
        )

    async def converse_stream(self, request: web.Request) -> web.StreamResponse:
        _, behaviour = await self._behaviour(request)
        if isinstance(behaviour, web.StreamResponse):
            return behaviour
        fault = await self.play_fault(request, behaviour, True, self.wire())
        if fault is not None:
            return fault
        if isinstance(behaviour, Reply):  # a slow first byte: before the headers
            await self.sleep(behaviour.delay_s)
        response = web.StreamResponse(
            headers={"Content-Type": "application/vnd.amazon.eventstream", **self._request_id()}
        )
        await response.prepare(request)
        await response.write(event("messageStart", {"role": "assistant"}))
        if isinstance(behaviour, TruncatedStream):
            pieces = split_text(behaviour.text, 6)[: behaviour.chunks]
            return await self.cut_off(request, response, [text_delta(p) for p in pieces])
        if isinstance(behaviour, StreamException):
            if behaviour.text:
                await response.write(text_delta(behaviour.text))
            await response.write(exception(behaviour.name, behaviour.message))
            await response.write_eof()
            return response
        behaviour = self.as_reply(behaviour)
        for data in stream_frames(behaviour):
            await response.write(data)
        await response.write(event("messageStop", {"stopReason": stop_reason(behaviour)}))
        await response.write(
            event("metadata", {"usage": usage(behaviour), "metrics": {"latencyMs": 321}})
        )
        await response.write_eof()
        return response

    # -- InvokeModel embeddings ------------------------------------------------------------

    async def invoke(self, request: web.Request) -> web.StreamResponse:
        body, behaviour = await self._behaviour(request)
        if isinstance(behaviour, web.StreamResponse):
            return behaviour
        model_id = request.match_info["model_id"]
        if "cohere" in model_id:
            texts = body["texts"]
            tokens = sum(len(t.split()) for t in texts)
            return web.json_response(
                {
                    "id": str(uuid.uuid4()),
                    "texts": texts,
                    "embeddings": [fake_vector(t, 24) for t in texts],
                    "response_type": "embeddings_floats",
                },
                headers={
                    **self._request_id(),
                    "X-Amzn-Bedrock-Input-Token-Count": str(tokens),
                    "X-Amzn-Bedrock-Invocation-Latency": "42",
                },
            )
        vector = fake_vector(body["inputText"], int(body.get("dimensions") or 32))
        return web.json_response(
            {
                "embedding": vector,
                "embeddingsByType": {"float": vector},
                "inputTextTokenCount": len(body["inputText"].split()),
            },
            headers=self._request_id(),
        )

    # -- control plane -------------------------------------------------------------------

    async def foundation_models(self, request: web.Request) -> web.StreamResponse:
        _, refused = await self._authorised_body(request)
        if refused is not None:
            return refused
        summaries = [
            ("amazon.nova-lite-v1:0", "Nova Lite", "Amazon", ["TEXT", "IMAGE"], ["TEXT"], True),
            (
                "amazon.titan-embed-text-v2:0",
                "Titan Text Embeddings V2",
                "Amazon",
                ["TEXT"],
                ["EMBEDDING"],
                False,
            ),
        ]
        return web.json_response(
            {
                "modelSummaries": [
                    {
                        "modelArn": f"arn:aws:bedrock:{self.region}::foundation-model/{mid}",
                        "modelId": mid,
                        "modelName": name,
                        "providerName": vendor,
                        "inputModalities": inputs,
                        "outputModalities": outputs,
                        "responseStreamingSupported": streaming,
                        "customizationsSupported": [],
                        "inferenceTypesSupported": ["ON_DEMAND"],
                        "modelLifecycle": {"status": "ACTIVE"},
                    }
                    for mid, name, vendor, inputs, outputs, streaming in summaries
                ]
            },
            headers=self._request_id(),
        )
