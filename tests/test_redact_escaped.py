"""Secrets inside escaped strings (issue 10, item 11): JSON in shell quotes, JSON in JSON,
\\u0022 and HTML escapes, URL-encoded bodies, YAML inside a JSON string.

Every secret below is fake and assembled by concatenation, so this file does not trip
secret scanners itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from skillvault import SkillManager
from skillvault.growth.redact import redact

PASSWORD = "Tr0ub4dor" + "&3xyzQ"  # the password of the bug report
PASSWORD_URL = "Tr0ub4dor" + "%263xyzQ"  # the same, URL-encoded
API_KEY = "Zq8Lm3Xv7R" + "t2Wp9Kd4Hs6Jn1"
TOKEN = "k9Pq2Lm8Xz" + "4Rv7Tw3Ny6Bc1D"
SHORT_BEARER = "Zx9Qw2" + "Er7Ty"  # too short for the bare "Bearer <20+ chars>" rule

# (secret that must vanish, text holding it)
ESCAPED = [
    (PASSWORD, 'curl -X POST -d "{\\"password\\": \\"' + PASSWORD + '\\"}" https://api.example.com/login'),
    (PASSWORD, 'curl -d "{\\"user\\":\\"bob\\",\\"password\\":\\"' + PASSWORD + '\\"}" https://x.example'),
    (PASSWORD, '"{\\\\\\"password\\\\\\": \\\\\\"' + PASSWORD + '\\\\\\"}"'),  # \\\" double escaped
    (PASSWORD, "curl -d '{\\\"password\\\": \\\"" + PASSWORD + "\\\"}' https://x.example"),
    (PASSWORD, "requests.post(url, json={'username': 'bob', 'password': '" + PASSWORD + "'})"),
    (PASSWORD_URL, "curl -d 'username=bob&password=" + PASSWORD_URL + "&remember=1' https://x.example/login"),
    (PASSWORD, "GET /login?creds=password%3D" + PASSWORD + " HTTP/1.1"),
    (API_KEY, '{"api_key":"' + API_KEY + '","region":"eu"}'),
    (API_KEY, '{\\"api_key\\":\\"' + API_KEY + '\\"}'),
    (PASSWORD, '{"config": "db:\\n  host: db.internal\\n  password: ' + PASSWORD + '\\n  port: 5432"}'),
    (PASSWORD, "database:\n  password: " + PASSWORD + "\n  user: app"),
    (SHORT_BEARER, '"headers": "{\\"Authorization\\": \\"Bearer ' + SHORT_BEARER + '\\"}"'),
    (SHORT_BEARER, 'curl -H \\"Authorization: Bearer ' + SHORT_BEARER + '\\" https://api.example.com'),
    (API_KEY, '{\\\\\\"secret\\\\\\":\\\\\\"' + API_KEY + '\\\\\\"}'),
    (PASSWORD, "{\\u0022password\\u0022: \\u0022" + PASSWORD + "\\u0022}"),
    (PASSWORD, "&quot;password&quot;: &quot;" + PASSWORD + "&quot;"),
    (TOKEN, '{\\"token\\": \\"' + TOKEN + '\\"}'),
    (PASSWORD, '{\\"pass\\": \\"' + PASSWORD + '\\"}'),
    (TOKEN, '"body": "{\\"access_token\\":\\"' + TOKEN + '\\",\\"expires_in\\":3600}"'),
    (PASSWORD, json.dumps(json.dumps(json.dumps({"password": PASSWORD})))),
    (API_KEY, json.dumps({"cmd": 'curl -d "{\\"client_secret\\": \\"' + API_KEY + '\\"}"'})),
    (PASSWORD, json.dumps({"args": {"password": 'ab\\"' + PASSWORD}})),  # escaped quote inside
]


def test_enough_escaped_forms():
    assert len(ESCAPED) >= 10
    assert {secret for secret, _ in ESCAPED} == {PASSWORD, PASSWORD_URL, API_KEY, TOKEN, SHORT_BEARER}


@pytest.mark.parametrize("secret, text", ESCAPED, ids=range(len(ESCAPED)))
def test_secrets_inside_escaped_quotes_are_redacted(secret, text):
    assert secret in text
    result = redact(text)
    assert secret not in result.text, result.text
    assert "[REDACTED:" in result.text
    assert redact(result.text).text == result.text  # still idempotent


def test_escaped_json_keeps_its_shape():
    result = redact('curl -d "{\\"password\\": \\"' + PASSWORD + '\\"}" https://api.example.com/login')
    assert result.text == 'curl -d "{\\"password\\": \\"[REDACTED:password]\\"}" https://api.example.com/login'


@pytest.mark.parametrize(
    "text",
    [
        json.dumps('conn = psycopg.connect(host=host, user=user, password=password)'),
        json.dumps(json.dumps({"password": "********", "token": None, "pass": True})),
        json.dumps({"cmd": 'curl -H "Authorization: Bearer $API_TOKEN" https://api.example.com'}),
        json.dumps({"env": {"PWD": "/home/me/project", "pass": 3}}),
        "C:\\new\\table\\readme.txt and https://example.com/a%20b?q=caf%C3%A9",
        json.dumps("Enter your password: it is on the card.\nThen press \"OK\"."),
    ],
)
def test_escaped_ordinary_text_survives(text):
    assert redact(text).text == text


def test_extract_with_an_echoing_llm_stores_none_of_the_escaped_secrets(tmp_path):
    """The LLM copies its whole input into the playbook (the bug report's case) and also
    repeats the raw forms from elsewhere; no secret reaches the prompt or the database."""
    from conftest import word_vector

    prompts: list[str] = []

    def echo_llm(text: str) -> dict:
        prompts.append(text)
        return {
            "has_knowledge": True,
            "title": "Logging in to the API",
            "playbook": "Steps taken:\n" + text,
            "examples": "\n".join(form for _secret, form in ESCAPED),  # straight from "memory"
            "when_to_use": "When calling the login endpoint.",
            "dependencies": [],
            "confidence": 0.9,
            "tags": ["api"],
        }

    db_path = tmp_path / "skills.db"
    conversation = [{"role": "user", "content": form} for _secret, form in ESCAPED]
    sm = SkillManager(str(db_path), embed_fn=word_vector, llm_fn=echo_llm)
    try:
        draft_id = sm.extract(conversation)
        assert draft_id is not None
        draft = sm.get(draft_id)
        assert "curl -X POST" in draft.chunks[0].content  # the echo did land
        files = sorted(tmp_path.glob("skills.db*"))
        assert any(p.name.endswith("-wal") for p in files)
        stored = b"".join(p.read_bytes() for p in files)
    finally:
        sm.close()
    stored += Path(db_path).read_bytes()  # after the close checkpoints the WAL
    assert b"[REDACTED:" in stored
    for secret in {secret for secret, _ in ESCAPED}:
        assert secret not in prompts[0], f"sent to the LLM: {secret[:6]}..."
        assert secret.encode() not in stored, f"stored in the DB: {secret[:6]}..."
