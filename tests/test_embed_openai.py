"""The OpenAI-compatible embedder and embed_config, run with the real SDK against a local stand-in."""

from __future__ import annotations

import base64
import json
import math
import struct
import sys
import urllib.error
import urllib.request

import numpy as np
import openai
import pytest

from skillvault.embed.base import embed_checked
from skillvault.embed.config import embedder_from_config
from skillvault.embed.local import LocalEmbedder
from skillvault.embed.openai_compat import OpenAIEmbedder
from skillvault.errors import EmbeddingError, ValidationError
from standins import OpenAIStandIn, embed_text

KEY = "sk-test-123"


@pytest.fixture
def make(openai_standin):
    """Build an OpenAIEmbedder pointed at the stand-in."""

    def build(**options):
        options.setdefault("api_key", KEY)
        return OpenAIEmbedder(options.pop("model", "text-embedding-3-small"), base_url=openai_standin.base_url,
                              **options)

    return build


def test_default_width_name_and_values(make, openai_standin):
    embedder = make()
    assert embedder.name == "openai:text-embedding-3-small"
    texts = ["deploy the service", "bake bread"]
    vectors = embedder.embed(texts)
    assert [len(v) for v in vectors] == [1536, 1536]
    np.testing.assert_allclose(vectors, [embed_text(t) for t in texts], atol=1e-6)
    (request,) = openai_standin.embedding_requests()
    assert request["body"]["model"] == "text-embedding-3-small"
    assert request["body"]["input"] == texts
    assert "dimensions" not in request["body"]


def test_dimensions_are_sent_and_named(make, openai_standin):
    embedder = make(dimensions=64)
    assert embedder.name == "openai:text-embedding-3-small@64"
    out = embed_checked(embedder, ["one text"], expected_dim=64)
    assert out.shape == (1, 64)
    assert openai_standin.embedding_requests()[0]["body"]["dimensions"] == 64


def test_batching_splits_requests(make, openai_standin):
    texts = [f"chunk number {i} about topic {i % 3}" for i in range(10)]
    vectors = make(batch_size=3).embed(texts)
    requests = openai_standin.embedding_requests()
    assert len(requests) == math.ceil(10 / 3)
    assert [len(r["body"]["input"]) for r in requests] == [3, 3, 3, 1]
    assert [t for r in requests for t in r["body"]["input"]] == texts
    np.testing.assert_allclose(vectors, [embed_text(t) for t in texts], atol=1e-6)


def test_results_ordered_by_index(make, openai_standin):
    openai_standin.shuffle_embeddings = True
    texts = ["alpha release notes", "beta bread recipe", "gamma ray physics", "delta airline"]
    vectors = make(batch_size=3).embed(texts)
    np.testing.assert_allclose(vectors, [embed_text(t) for t in texts], atol=1e-6)


def test_base64_and_float_both_decode(make, openai_standin):
    embedder = make()
    via_sdk_default = embedder.embed(["react hooks and effects"])[0]
    assert openai_standin.embedding_requests()[-1]["body"]["encoding_format"] == "base64"
    as_float = embedder.client.embeddings.create(
        model="text-embedding-3-small", input="react hooks and effects", encoding_format="float"
    ).data[0].embedding
    np.testing.assert_allclose(via_sdk_default, as_float, atol=1e-6)
    # and the raw base64 payload is little-endian float32
    request = urllib.request.Request(
        openai_standin.base_url + "/embeddings",
        data=json.dumps({"model": "m", "input": "react hooks and effects", "encoding_format": "base64"}).encode(),
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        payload = json.loads(response.read())
    raw = base64.b64decode(payload["data"][0]["embedding"])
    decoded = struct.unpack(f"<{len(raw) // 4}f", raw)
    np.testing.assert_allclose(decoded, as_float, atol=1e-6)
    assert payload["usage"]["prompt_tokens"] == payload["usage"]["total_tokens"] > 0


def test_authorization_header_carries_key():
    with OpenAIStandIn(api_key=KEY) as server:
        OpenAIEmbedder("m", base_url=server.base_url, api_key=KEY).embed(["hello"])
        assert server.requests[0]["headers"]["authorization"] == f"Bearer {KEY}"
        wrong = OpenAIEmbedder("m", base_url=server.base_url, api_key="sk-wrong")
        with pytest.raises(EmbeddingError, match="AuthenticationError"):
            embed_checked(wrong, ["hello"])


def test_missing_authorization_is_401_in_api_shape(openai_standin):
    request = urllib.request.Request(
        openai_standin.base_url + "/embeddings", data=b'{"model": "m", "input": "x"}',
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=5)
    assert info.value.code == 401
    error = json.loads(info.value.read())["error"]
    assert {"message", "type", "code"} <= error.keys()


def test_api_key_from_environment(monkeypatch, openai_standin):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    OpenAIEmbedder("m", base_url=openai_standin.base_url).embed(["hello"])
    assert openai_standin.requests[-1]["headers"]["authorization"] == "Bearer sk-from-env"


def test_no_api_key_anywhere(monkeypatch, openai_standin):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ValidationError) as info:
        OpenAIEmbedder("m", base_url=openai_standin.base_url)
    assert info.value.field == "api_key" and "OPENAI_API_KEY" in str(info.value)
    with pytest.raises(ValidationError) as info:
        embedder_from_config({"model": "m", "base_url": openai_standin.base_url})
    assert info.value.field == "embed_config.api_key"
    assert 'embed_config["api_key"]' in str(info.value)


def test_server_error_surfaces_as_embedding_error(make, openai_standin):
    openai_standin.fail_next(1, status=500)
    with pytest.raises(openai.InternalServerError):
        make(max_retries=0).embed(["hello"])
    openai_standin.fail_next(1, status=500)
    with pytest.raises(EmbeddingError, match="InternalServerError") as info:
        embed_checked(make(max_retries=0), ["hello"])
    assert isinstance(info.value.__cause__, openai.APIStatusError)


def test_sdk_retries_transient_errors(make, openai_standin):
    openai_standin.fail_next(1, status=503)
    vectors = make(max_retries=1).embed(["hello world"])
    assert len(vectors) == 1
    assert len(openai_standin.embedding_requests()) == 2


def test_empty_list_makes_no_request(make, openai_standin):
    assert make().embed([]) == []
    assert openai_standin.requests == []


def test_non_string_text_rejected(make):
    with pytest.raises(EmbeddingError, match=r"texts\[0\]"):
        make().embed([b"bytes"])


def test_standin_embeddings_are_roughly_semantic():
    shared = np.dot(embed_text("deploy the web service"), embed_text("how to deploy services"))
    unrelated = np.dot(embed_text("deploy the web service"), embed_text("sourdough bread starter"))
    assert shared > 0.3
    assert abs(unrelated) < 0.15
    assert np.linalg.norm(embed_text("anything at all", 32)) == pytest.approx(1.0)


def test_standin_chat_completions(openai_standin):
    client = openai.OpenAI(base_url=openai_standin.base_url, api_key=KEY, max_retries=0)
    openai_standin.chat_replies.append('{"has_knowledge": true, "name": "x"}')
    messages = [{"role": "user", "content": "extract please"}]
    first = client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    second = client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert json.loads(first.choices[0].message.content) == {"has_knowledge": True, "name": "x"}
    assert json.loads(second.choices[0].message.content) == {"has_knowledge": False}
    assert first.choices[0].finish_reason == "stop" and first.usage.total_tokens > 0
    assert openai_standin.requests[0]["body"]["messages"] == messages


# -- constructor and embed_config validation --------------------------------------------------


@pytest.mark.parametrize(
    "options, field",
    [
        ({"model": ""}, "model"),
        ({"dimensions": 0}, "dimensions"),
        ({"dimensions": True}, "dimensions"),
        ({"batch_size": 0}, "batch_size"),
        ({"timeout": -1}, "timeout"),
        ({"max_retries": -1}, "max_retries"),
        ({"api_key": ""}, "api_key"),
    ],
)
def test_constructor_validation(options, field):
    options.setdefault("api_key", KEY)
    with pytest.raises(ValidationError) as info:
        OpenAIEmbedder(options.pop("model", "m"), **options)
    assert info.value.field == field


def test_config_0_1_form_still_works(openai_standin):
    embedder = embedder_from_config(
        {"base_url": openai_standin.base_url, "api_key": KEY, "model": "text-embedding-3-small"}
    )
    assert isinstance(embedder, OpenAIEmbedder)
    assert embedder.name == "openai:text-embedding-3-small"
    assert len(embedder.embed(["hello"])[0]) == 1536


def test_config_full_form(openai_standin):
    embedder = embedder_from_config({
        "provider": "openai", "model": "m", "base_url": openai_standin.base_url, "api_key": KEY,
        "dimensions": 32, "batch_size": 2, "timeout": 5, "max_retries": 0,
    })
    assert embedder.name == "openai:m@32" and embedder.batch_size == 2
    assert np.asarray(embedder.embed(["a b", "c d", "e f"])).shape == (3, 32)
    assert len(openai_standin.embedding_requests()) == 2


def test_config_none_values_mean_defaults(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    embedder = embedder_from_config({"model": "m", "base_url": None, "api_key": None, "dimensions": None,
                                     "batch_size": None})
    assert embedder.batch_size == 256 and embedder.name == "openai:m"


def test_config_local():
    assert isinstance(embedder_from_config({"provider": "local"}), LocalEmbedder)


@pytest.mark.parametrize(
    "config, field",
    [
        ({"model": "m", "api_key": KEY, "modle": "x"}, "embed_config.modle"),
        ({"api_key": KEY}, "embed_config.model"),
        ({"model": 3, "api_key": KEY}, "embed_config.model"),
        ({"model": "  ", "api_key": KEY}, "embed_config.model"),
        ({"model": "m", "api_key": 123}, "embed_config.api_key"),
        ({"model": "m", "api_key": KEY, "base_url": "localhost:8000"}, "embed_config.base_url"),
        ({"model": "m", "api_key": KEY, "dimensions": "256"}, "embed_config.dimensions"),
        ({"model": "m", "api_key": KEY, "dimensions": True}, "embed_config.dimensions"),
        ({"model": "m", "api_key": KEY, "dimensions": -4}, "embed_config.dimensions"),
        ({"model": "m", "api_key": KEY, "batch_size": 5000}, "embed_config.batch_size"),
        ({"model": "m", "api_key": KEY, "batch_size": 2.5}, "embed_config.batch_size"),
        ({"provider": "cohere", "model": "m"}, "embed_config.provider"),
        ({"provider": "local", "model": "m"}, "embed_config.model"),
    ],
)
def test_config_errors_name_the_field(config, field):
    with pytest.raises(ValidationError) as info:
        embedder_from_config(config)
    assert info.value.field == field
    assert str(info.value).startswith(field + ": ")


def test_config_not_a_dict():
    with pytest.raises(ValidationError) as info:
        embedder_from_config("text-embedding-3-small")
    assert info.value.field == "embed_config"


def test_missing_openai_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "openai", None)  # makes `import openai` raise ImportError
    with pytest.raises(EmbeddingError, match=r'pip install "skillvault\[openai\]"'):
        OpenAIEmbedder("m", api_key=KEY)
