"""Remove secrets from text before it is sent to an LLM or stored as a draft skill.

Detection has two parts:

* the regex-based plugins of ``detect-secrets`` (AWS, GitHub, Slack, Stripe, private-key
  headers, ...). We use only their compiled ``denylist`` patterns, run with ``finditer``
  over the whole text (recompiled with ``re.MULTILINE`` so their ``^``/``$`` keep the
  per-line meaning they have inside detect-secrets). Its scanner, settings, filters,
  verification (network calls) and config files are not used.
* our own patterns for what those plugins miss or only partly cover: whole PEM blocks,
  full JWTs, Anthropic/OpenAI/Hugging Face/Google keys, credentials in connection
  strings, ``Authorization`` headers, password assignments, and high-entropy values
  assigned to names ending in key/secret/token/password.

The entropy test runs only on *values of assignments* (``api_key = "..."``), never on
free text: prose is full of long words, UUIDs and git SHAs that would otherwise be
redacted. A value counts as a secret when it is at least 16 characters long, has a
Shannon entropy of at least 3.5 bits per character (3.0 for hex, whose ceiling is 4),
mixes letters with digits or with both cases, and is not just words joined by ``_``/``-``
(``user_profile_settings_v2``).

Secrets are often pasted inside escaped strings: ``curl -d "{\\"password\\": \\"...\\"}"``,
JSON inside JSON (``\\\\\\"``), ``\\u0022``, ``password%3D...`` in URL-encoded bodies,
``&quot;`` in HTML. When the text holds such escapes, the rules also run over an
*unescaped view* of it (quotes, ``\\n``/``\\t``, ``\\u00XX``, ``%XX`` and a few HTML
entities decoded) and what they find there is mapped back onto the original text.

Each secret becomes ``[REDACTED:<kind>]``; overlapping findings merge into one
replacement whose kind is that of the longest finding. Text that is already a
``[REDACTED:...]`` marker is never matched again, so redaction is idempotent.
"""

from __future__ import annotations

import bisect
import importlib
import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Iterator, Optional

__all__ = ["Finding", "Redaction", "ValueFinding", "redact", "redact_value"]


@dataclass(frozen=True)
class Finding:
    """One redacted secret: its kind and its ``[start, end)`` span in the original text."""

    kind: str
    start: int
    end: int


@dataclass(frozen=True)
class Redaction:
    """Result of :func:`redact`: the redacted text and what was removed (never the secret)."""

    text: str
    findings: tuple[Finding, ...]


@dataclass(frozen=True)
class ValueFinding:
    """A finding inside a JSON-like value (see :func:`redact_value`).

    ``path`` leads from the root to the string (dict keys as redacted, list indexes);
    ``in_key`` says the secret was in the dict key at the end of ``path``, not its value.
    """

    path: tuple[Any, ...]
    finding: Finding
    in_key: bool = False


# --- rules --------------------------------------------------------------------------

Check = Callable[[re.Match, str], bool]


@dataclass(frozen=True)
class _Rule:
    kind: str
    pattern: re.Pattern
    from_plugin: bool = False
    check: Optional[Check] = None
    needle: Optional[str] = None  # run only on lines holding this literal
    value_check: Optional[Callable[[str], bool]] = None  # plugins: test on the secret


# (module in detect_secrets.plugins, class, our kind). Classes missing from the installed
# version are skipped. IPPublicDetector is left out on purpose: an IP address is not a
# secret. KeywordDetector and the high-entropy plugins are not regex-based (see above).
_PLUGINS = (
    ("artifactory", "ArtifactoryDetector", "artifactory-token"),
    ("aws", "AWSKeyDetector", "aws-access-key"),
    ("azure_storage_key", "AzureStorageKeyDetector", "azure-storage-key"),
    ("basic_auth", "BasicAuthDetector", "basic-auth"),
    ("cloudant", "CloudantDetector", "cloudant-credentials"),
    ("discord", "DiscordBotTokenDetector", "discord-bot-token"),
    ("github_token", "GitHubTokenDetector", "github-token"),
    ("gitlab_token", "GitLabTokenDetector", "gitlab-token"),
    ("ibm_cloud_iam", "IbmCloudIamDetector", "ibm-cloud-iam-key"),
    ("ibm_cos_hmac", "IbmCosHmacDetector", "ibm-cos-hmac"),
    ("jwt", "JwtTokenDetector", "jwt"),
    ("mailchimp", "MailchimpDetector", "mailchimp-key"),
    ("npm", "NpmDetector", "npm-token"),
    ("openai", "OpenAIDetector", "openai-key"),
    ("private_key", "PrivateKeyDetector", "private-key"),
    ("pypi_token", "PypiTokenDetector", "pypi-token"),
    ("sendgrid", "SendGridDetector", "sendgrid-key"),
    ("slack", "SlackDetector", "slack-token"),
    ("softlayer", "SoftlayerDetector", "softlayer-key"),
    ("square_oauth", "SquareOAuthDetector", "square-oauth-secret"),
    ("stripe", "StripeDetector", "stripe-key"),
    ("telegram_token", "TelegramBotTokenDetector", "telegram-bot-token"),
    ("twilio", "TwilioKeyDetector", "twilio-key"),
)

# Plugin patterns that take quadratic time on some long lines (``.+`` or ``[...]*`` run
# from every "//", "sk-" or "eyJ"): run them only on the lines holding a literal every
# match contains. A 200 KB one-line JSON dump full of URLs otherwise takes seconds.
# Lines longer than _LONG_LINE skip them entirely: our own linear rules (jwt, npm-token,
# sk-api-key, high-entropy-secret for ``_authToken=<uuid>``) cover the same secrets.
_LONG_LINE = 20_000
_PLUGIN_NEEDLES = {
    "NpmDetector": "_authToken",
    "OpenAIDetector": "T3BlbkFJ",
    "JwtTokenDetector": "eyJ",
}
# Extra tests on a plugin's secret. Artifactory's "AP[0-9A-F]..." pattern matches
# upper-case words such as APACHECONFIG.
_PLUGIN_CHECKS: dict[str, Callable[[str], bool]] = {
    "ArtifactoryDetector": lambda value: not (value.isalpha() and value.isupper()),
}

_MARKER = re.compile(r"\[REDACTED:[a-z0-9-]+\]")
_TOKEN_CHAR = "[A-Za-z0-9_-]"


def _starting(words: tuple[str, ...], not_after: str = _TOKEN_CHAR) -> str:
    """A regex for any of ``words`` whose preceding character is not in ``not_after``
    (by default: a token that does not continue a longer word).

    The words come first so that ``re`` can jump from one candidate to the next: the
    same rule written with a leading lookbehind or ``\\b`` ran ~8x slower over English
    chunks (6-7 us instead of 0.8 per text, and the import scans every text with them).
    """
    return "(?:" + "|".join(f"{re.escape(w)}(?<!{not_after}{re.escape(w)})" for w in words) + ")"


_E = r"(?![A-Za-z0-9_-])"
#: A command-line option's value: quoted, or up to the next space.
_FLAG_VALUE = r"""(?:"(?P<dq>[^"\n]+)"|'(?P<sq>[^'\n]+)'|(?P<bare>[^\s"'`]+))"""
_OP = r"""["']?\]?[ \t]*(?::=|=>|!=|={1,3}|:)[ \t]*"""  # optional closing quote, operator
_CODE_WORDS = {
    "str", "string", "bytes", "int", "none", "null", "nil", "true", "false", "undefined",
    "optional", "secretstr", "any", "required", "env", "password", "passwd", "secret",
}
_SECRET_NAMES = re.compile(r"pass|pw|secret|cred|token|key", re.IGNORECASE)


_PLACEHOLDER = re.compile(
    r"\$\{[^}]*\}|\$[A-Z_][A-Z0-9_]*|\$?\{\{.*\}\}|\{\w+\}|<[^<>]+>|%\(\w+\)s|%s"
    r"|\[REDACTED:[a-z0-9-]+\]|[*xX•._#-]+"
)


def _is_placeholder(value: str) -> bool:
    """True for values that stand for a secret rather than being one (``$X``, ``<pw>``).

    Deliberately narrow: a real password that merely starts with ``$`` or ``{`` is kept
    as a secret.
    """
    v = value.strip("\"'` ")
    return not v or _PLACEHOLDER.fullmatch(v) is not None


def _looks_like_code(value: str) -> bool:
    """True for unquoted values that are expressions, not literals (``args.pw``, ``str``)."""
    if re.search(r"[(\[{]", value) or value.lower() in _CODE_WORDS:
        return True
    if re.fullmatch(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+", value):  # attribute access
        return True
    # a variable named like a secret (password=db_password), but not pass123
    return bool(re.fullmatch(r"[A-Za-z_]+", value) and _SECRET_NAMES.search(value))


def _shannon_entropy(value: str) -> float:
    """Bits per character of ``value`` under its own character frequencies."""
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def _secret_text(m: re.Match) -> str:
    return m.group(_secret_group(m) or 0)


_SECRET_GROUPS = ("s", "dq", "sq", "bare")


def _secret_group(m: re.Match) -> Optional[str]:
    """Name of the group holding the secret in one of our matches (None: whole match)."""
    for name in _SECRET_GROUPS:
        if name in m.re.groupindex and m.start(name) != -1:
            return name
    return None


def _check_not_placeholder(m: re.Match, text: str) -> bool:
    return not _is_placeholder(_secret_text(m))


def _check_connection(m: re.Match, text: str) -> bool:
    password = m.group("s").split(":", 1)[1]
    return not _is_placeholder(password)


def _check_password(m: re.Match, text: str) -> bool:
    value = _secret_text(m)
    if _is_placeholder(value) or not re.search(r"[A-Za-z0-9]", value):
        return False
    if m.group("bare") is None:
        return True
    op = m.group("op").strip(" \t\"']")
    if len(value) < 3 or _looks_like_code(value) or op in ("==", "===", "!="):
        return False  # a comparison with an unquoted value compares two variables
    if op == ":":
        # "password: x" mid-sentence is usually prose; at the start of a line it is
        # YAML/config. In prose, only values with a digit or symbol count.
        line_start = text.rfind("\n", 0, m.start()) + 1
        in_config = re.fullmatch(r"""[\s"'-]*[\w.-]*""", text[line_start:m.start()])
        return bool(in_config) or not value.isalpha()
    return True


def _check_short_password(m: re.Match, text: str) -> bool:
    value = _secret_text(m)
    if _is_placeholder(value) or not re.search(r"[A-Za-z0-9]", value) or value[0] in "/~":
        return False  # "pwd": "/home/me" is a folder
    return m.group("bare") is None or not (_looks_like_code(value) or value.isdigit())


def _check_sk(m: re.Match, text: str) -> bool:
    return re.search(r"[A-Za-z0-9]{20}", m.group()) is not None  # not sk-some-long-words


def _check_flag(m: re.Match, text: str) -> bool:
    value = _secret_text(m)
    return not (_is_placeholder(value) or _looks_like_code(value))


def _check_entropy(m: re.Match, text: str) -> bool:
    value = m.group("s")
    threshold = 3.0 if re.fullmatch(r"[0-9a-fA-F-]+", value) else 3.5  # hex: 4 bits at most
    if _is_placeholder(value) or _shannon_entropy(value) < threshold:
        return False
    parts = [p for p in re.split(r"[_-]+", value) if p]
    if len(parts) > 1 and all(re.fullmatch(r"[a-z]+|[A-Z]+|[A-Z][a-z]+|\w{1,3}", p) for p in parts):
        return False  # words joined by _ or -, e.g. user_profile_settings_v2
    has_digit = any(c.isdigit() for c in value)
    has_upper = any(c.isupper() for c in value)
    has_lower = any(c.islower() for c in value)
    return (has_upper or has_lower) and (has_digit or (has_upper and has_lower))


# Our own specific rules, in priority order (they rank before the plugins): when two
# findings cover the same span, the earlier rule names it. The group named ``s`` (or
# ``dq``/``sq``/``bare``, whichever matched) is the secret; without one, the whole match.
_OWN = (
    ("gcp-service-account-key", r""""private_key"\s*:\s*"(?P<s>-----BEGIN[^"]*)\"""", None),
    (
        "private-key",
        r"-{4,5} ?BEGIN (?P<label>[A-Z0-9 ]*?)PRIVATE KEY(?P<blk>(?: BLOCK)?) ?-{4,5}"
        # body: anything without "--" (keeps the scan linear), then the END line
        r"(?:(?:[^-]|-(?!-))*-{4,5} ?END (?P=label)PRIVATE KEY(?P=blk) ?-{4,5}"
        # no END line (truncated paste): take the base64 lines that follow
        r"|(?:\s*(?:\\r)?(?:\\n)?[A-Za-z0-9+/=]{16,})*)",
        None,
    ),
    ("anthropic-key", _starting(("sk-ant-",)) + r"[A-Za-z0-9_-]{20,}", None),
    ("openai-key", _starting(("sk-",)) + r"(?:proj|svcacct|admin|None)-[A-Za-z0-9_-]{20,}", None),
    ("google-api-key", _starting(("AIza",)) + r"[0-9A-Za-z_-]{35}" + _E, None),
    ("google-oauth-secret", _starting(("GOCSPX-",)) + r"[A-Za-z0-9_-]{20,}", None),
    ("huggingface-token", _starting(("hf_",)) + r"[A-Za-z0-9]{30,}", None),
    ("github-token", "(?:" + _starting(("github_pat_",)) + r"[A-Za-z0-9_]{22,}|"
     + _starting(("ghp_", "gho_", "ghu_", "ghs_", "ghr_")) + r"[A-Za-z0-9_]{30,})", None),
    ("npm-token", _starting(("npm_",)) + r"[A-Za-z0-9]{36}" + _E, None),
    ("stripe-key", _starting(("rk_", "sk_")) + r"(?:live|test)_[0-9A-Za-z]{10,}", None),
    ("slack-webhook", r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/-]+", None),
    ("slack-token", "(?:" + _starting(("xox",)) + r"[a-z]-[A-Za-z0-9-]{10,}|"
     + _starting(("xapp-",)) + r"[A-Za-z0-9-]{20,})", None),
    ("jwt", _starting(("eyJ",)) + r"[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*", None),
    (
        "aws-secret-key",
        r"(?i)aws_?secret_?(?:access_?)?key" + _OP + r"""["']?(?P<s>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])""",
        None,
    ),
    ("azure-storage-key", r"(?i)(?:AccountKey|SharedAccessKey)=(?P<s>[A-Za-z0-9+/=]{20,})", None),
    ("azure-sas", r"[?&;]sig=(?P<s>[A-Za-z0-9%+/=]{20,})", None),
    (
        "connection-string",
        # user:password before the last "@" of the authority; host stays readable
        r"""(?i)\b[a-z][a-z0-9+.-]{1,20}://(?P<s>[^\s:/@"'`<>]*:[^\s/"'`<>]*[^\s/"'`<>@])@(?=[\w.\[])""",
        _check_connection,
    ),
    (
        "authorization-header",
        r"""(?i)\b(?:proxy-)?authorization["']?[ \t]*[:=][ \t]*["']?(?:bearer|token|basic|bot)[ \t]+"""
        r"(?P<s>[A-Za-z0-9._~+/-]{8,}=*)",
        _check_not_placeholder,
    ),
    ("bearer-token", r"(?i)\bbearer[ \t]+(?P<s>[A-Za-z0-9._~+/-]{20,}=*)", _check_not_placeholder),
    (
        "password",
        r"(?i)(?:pass(?:word|wd|phrase)|_pwd|_pass)(?P<op>" + _OP + r")"
        r"""(?:"(?P<dq>(?:[^"\\\n]|\\.)+)"|'(?P<sq>(?:[^'\\\n]|\\.)+)'|(?P<bare>[^\s"'`,;)}\]]+))""",
        _check_password,
    ),
    (
        "password",  # short names: a quoted key ("pass": "..."), a form field (&pass=...), a
        # connection-string field (;Pwd=...) or an assignment starting a word (PASS=... cmd)
        r"""(?i)(?:["'](?:pass|pwd|pw)["'][ \t]*[:=]|""" + _starting(("pass=", "pwd="), r"[^?&;\s]") + r""")[ \t]*"""
        r"""(?:"(?P<dq>(?:[^"\\\n]|\\.)+)"|'(?P<sq>(?:[^'\\\n]|\\.)+)'|(?P<bare>[^\s"'`,;)}\]&#]+))""",
        _check_short_password,
    ),
    ("password", r"""--pass(?:word)? +["']?(?P<bare>[^\s"'`]+)""", _check_flag),
    # Command-line passwords: MySQL/MariaDB clients take one only attached (-pSECRET;
    # "-p db" prompts), sshpass after -p, curl after the user name (-u user:SECRET).
    ("password", _starting(("mysql", "mariadb")) + r"""[\w-]*\b[^\n|;&]*?[ \t]-p""" + _FLAG_VALUE, _check_flag),
    ("password", _starting(("sshpass",)) + r"""\b[^\n|;&]*?[ \t]-p[ \t]*""" + _FLAG_VALUE, _check_flag),
    (
        "password",
        _starting(("curl",)) + r"""\b[^\n|;&]*?[ \t](?:-u[ \t]*|--user[ \t=]+)["']?[^\s:"'`]*:(?P<bare>[^\s"'`]+)""",
        _check_flag,
    ),
    (
        "password",  # YAML-style line: an unquoted value runs to the end of the line
        r"""(?im)^[ \t-]*["']?[\w.-]*(?:pass(?:word|wd|phrase)|_pwd|_pass)["']?[ \t]*:[ \t]+"""
        r"""(?P<bare>[^\s"'#][^\n#]*?)[ \t]*(?:#.*)?$""",
        _check_flag,
    ),
)


# Generic rules, ranked after the detect-secrets plugins so that a specific kind names a
# span first (a legacy OpenAI key is "openai-key", not "sk-api-key").
_FALLBACK = (
    ("sk-api-key", _starting(("sk-",)) + r"[A-Za-z0-9_-]{20,}", _check_sk),
    (
        "high-entropy-secret",
        r"(?i)(?:key|secret|token|pass(?:word|wd|phrase)?|pwd|credentials?|auth)s?" + _OP
        + r"""["']?(?P<s>[A-Za-z0-9+/=_~-]{16,})(?![A-Za-z0-9+/=_~-]|\.[A-Za-z0-9])""",
        _check_entropy,
    ),
)


@lru_cache(maxsize=1)
def _rules() -> tuple[_Rule, ...]:
    """Compile our rules and load the detect-secrets plugins (once; imports are slow)."""
    def own(table: tuple) -> list[_Rule]:
        return [
            _Rule(kind, re.compile(source, re.DOTALL if kind == "private-key" else 0), False, check)
            for kind, source, check in table
        ]

    rules = own(_OWN)
    try:
        importlib.import_module("detect_secrets.plugins")
    except ImportError as exc:  # fail closed: no silent weaker redaction
        raise ImportError(
            "skillvault's secret redaction needs detect-secrets: pip install 'detect-secrets>=1.5'"
        ) from exc
    for module, class_name, kind in _PLUGINS:
        try:
            plugin_class = getattr(importlib.import_module(f"detect_secrets.plugins.{module}"), class_name)
        except (ImportError, AttributeError):
            continue  # not in this detect-secrets version
        for pattern in plugin_class().denylist:
            compiled = re.compile(pattern.pattern, pattern.flags | re.MULTILINE)
            needle, value_check = _PLUGIN_NEEDLES.get(class_name), _PLUGIN_CHECKS.get(class_name)
            rules.append(_Rule(kind, compiled, True, None, needle, value_check))
    rules.extend(own(_FALLBACK))
    return tuple(rules)


def _plugin_span(m: re.Match) -> tuple[int, int]:
    """Span of the secret in a detect-secrets match.

    Plugin groups are not always the secret: GitHub's ``(ghp|gho|...)_`` group is the
    prefix. A group is taken only if it starts after the match start (so it follows
    context such as a key name or ``://user:``) and is at least 4 characters; otherwise
    the whole match is, minus delimiters some patterns consume (Artifactory eats the
    surrounding spaces/quotes). Spans stop at whitespace: no plugin secret contains any,
    and the NPM pattern's ``.+`` would otherwise run to the end of the line.
    """
    best = None
    for i in range(1, m.re.groups + 1):
        start, end = m.span(i)
        if start > m.start() and end - start >= 4 and (best is None or end - start > best[1] - best[0]):
            best = (start, end)
    start, end = best or m.span()
    text = m.string
    while start < end and text[start] in " \t\r\n\"'=:":
        start += 1
    while end > start and text[end - 1] in " \t\r\n\"'":
        end -= 1
    gap = re.search(r"\s", text[start:end])
    return start, start + gap.start() if gap else end


def _matches(rule: _Rule, text: str) -> Iterator[re.Match]:
    """Matches of ``rule`` in ``text``; needle rules only scan the lines with the needle."""
    if rule.needle is None:
        yield from rule.pattern.finditer(text)
        return
    pos = text.find(rule.needle)
    while pos != -1:
        line_start = text.rfind("\n", 0, pos) + 1
        line_end = text.find("\n", pos)
        line_end = len(text) if line_end == -1 else line_end
        if line_end - line_start <= _LONG_LINE:
            yield from rule.pattern.finditer(text, line_start, line_end)
        pos = text.find(rule.needle, line_end)


def _raw_findings(text: str) -> list[tuple[int, int, int, str]]:
    """All (start, end, rule priority, kind) candidates, before merging."""
    found = []
    for rank, rule in enumerate(_rules()):
        for m in _matches(rule, text):
            if rule.check is not None and not rule.check(m, text):
                continue
            if rule.from_plugin:
                start, end = _plugin_span(m)
                value = text[start:end]
                if _is_placeholder(value) or (rule.value_check and not rule.value_check(value)):
                    continue
            else:
                start, end = m.span(_secret_group(m) or 0)
            if end > start:
                found.append((start, end, rank, rule.kind))
    return found


# Escapes decoded in the unescaped view. Only printable ASCII is produced, so the view's
# rules see the quotes, operators and line breaks the escaping hid.
_ESCAPE = re.compile(
    r"""\\+(?P<q>["'])"""                      # \" \\\" -> "
    r"|\\+(?P<c>[nrt])"                        # \n -> a line break (YAML inside JSON)
    r"|\\+u00(?P<u>[2-6][0-9A-Fa-f]|7[0-9A-Ea-e])"  # \u0022 -> "
    r"|%(?P<p>[2-6][0-9A-Fa-f]|7[0-9A-Ea-e])"    # %3D -> =
    r"|&(?P<h>quot|apos|amp|#34|#39|#x22|#x27);"   # &quot; -> "
)
_CONTROL_ESCAPES = {"n": "\n", "r": "\r", "t": "\t"}
_HTML_ESCAPES = {"quot": '"', "apos": "'", "amp": "&", "#34": '"', "#39": "'", "#x22": '"', "#x27": "'"}


@dataclass(frozen=True)
class _View:
    """The text with escapes decoded, and how to map its positions back.

    ``views[k]`` is the view position of the k-th decoded escape, which came from
    ``spans[k]`` of the original; ``shifts[k]`` is original minus view position for
    view positions just after it.
    """

    text: str
    views: list[int]
    spans: list[tuple[int, int]]
    shifts: list[int]

    def regions(self) -> list[tuple[int, int]]:
        """View spans worth scanning: runs of whole lines that hold a decoded escape.

        A decoded line break also marks the line it starts, so YAML inside a JSON
        string is scanned line by line as YAML. Lines without escapes read the same as
        in the original text, which is scanned anyway.
        """
        starts = [0] + [m.end() for m in re.finditer("\n", self.text)]
        marked: set[int] = set()
        for pos in self.views:
            line = bisect.bisect_right(starts, pos) - 1
            marked.add(line)
            if self.text[pos] == "\n":
                marked.add(line + 1)
        regions: list[tuple[int, int]] = []
        for line in sorted(n for n in marked if n < len(starts)):
            start = starts[line]
            end = starts[line + 1] if line + 1 < len(starts) else len(self.text)
            if regions and regions[-1][1] == start:
                regions[-1] = (regions[-1][0], end)
            else:
                regions.append((start, end))
        return regions

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The original span that the view span ``[start, end)`` was decoded from."""
        return self._original(start)[0], self._original(end - 1)[1]

    def _original(self, pos: int) -> tuple[int, int]:
        k = bisect.bisect_right(self.views, pos) - 1
        if k >= 0 and self.views[k] == pos:
            return self.spans[k]
        shifted = pos + (self.shifts[k] if k >= 0 else 0)
        return shifted, shifted + 1


def _unescaped_view(text: str) -> Optional[_View]:
    """The unescaped view of ``text``, or None when it holds no escape to decode."""
    pieces: list[str] = []
    views: list[int] = []
    spans: list[tuple[int, int]] = []
    shifts: list[int] = []
    pos = view_len = 0
    for m in _ESCAPE.finditer(text):
        literal = text[pos:m.start()]
        pieces.append(literal)
        view_len += len(literal)
        kind = m.lastgroup
        value = m.group(kind)
        if kind == "q":
            char = value
        elif kind == "c":
            char = _CONTROL_ESCAPES[value]
        elif kind == "h":
            char = _HTML_ESCAPES[value]
        else:
            char = chr(int(value, 16))
        pieces.append(char)
        views.append(view_len)
        spans.append(m.span())
        view_len += 1
        shifts.append(m.end() - view_len)
        pos = m.end()
    if not views:
        return None
    pieces.append(text[pos:])
    return _View("".join(pieces), views, spans, shifts)


def _outside_markers(
    text: str, found: list[tuple[int, int, int, str]], markers: list[tuple[int, int]]
) -> list[tuple[int, int, int, str]]:
    """Cut existing ``[REDACTED:...]`` markers out of findings (keeps redaction idempotent)."""
    if not markers:
        return found
    marker_ends = [e for _, e in markers]
    out = []
    for start, end, rank, kind in found:
        pieces, pos = [], start
        i = bisect.bisect_right(marker_ends, start)  # first marker ending after start
        while i < len(markers) and markers[i][0] < end:
            pieces.append((pos, markers[i][0]))
            pos = max(pos, markers[i][1])
            i += 1
        pieces.append((pos, end))
        out.extend(
            (s, e, rank, kind) for s, e in pieces if e > s and re.search(r"[A-Za-z0-9]", text[s:e])
        )
    return out


def redact(text: str) -> Redaction:
    """Replace every secret in ``text`` with ``[REDACTED:<kind>]``.

    Args:
        text: any text, e.g. a whole conversation.

    Returns:
        A :class:`Redaction` with the new text and one :class:`Finding` per replacement,
        in order, with spans in the original ``text``. Overlapping findings are merged;
        the kind of the longest one wins.

    Raises:
        TypeError: ``text`` is not a ``str``.
        ImportError: ``detect-secrets`` is not installed.
    """
    if not isinstance(text, str):
        raise TypeError(f"redact() needs a str, got {type(text).__name__}")
    markers = [m.span() for m in _MARKER.finditer(text)]
    raw = _raw_findings(text)
    view = _unescaped_view(text)
    if view is not None:
        for first, last in view.regions():
            for start, end, rank, kind in _raw_findings(view.text[first:last]):
                raw.append((*view.original_span(first + start, first + end), rank, kind))
    found = _outside_markers(text, raw, markers)
    found.sort(key=lambda f: (f[0], -f[1]))

    findings: list[Finding] = []
    pieces: list[str] = []
    pos = 0
    i = 0
    while i < len(found):
        start, end, _, _ = found[i]
        cluster = [found[i]]
        i += 1
        while i < len(found) and found[i][0] < end:
            end = max(end, found[i][1])
            cluster.append(found[i])
            i += 1
        kind = min(cluster, key=lambda f: (f[0] - f[1], f[2]))[3]  # longest, then priority
        findings.append(Finding(kind, start, end))
        pieces.append(text[pos:start])
        pieces.append(f"[REDACTED:{kind}]")
        pos = end
    pieces.append(text[pos:])
    return Redaction("".join(pieces), tuple(findings))


def redact_value(obj: Any) -> tuple[Any, tuple[ValueFinding, ...]]:
    """Redact every string inside a JSON-like value (e.g. an LLM's parsed answer).

    Dict keys and values, list and tuple items are walked recursively; numbers,
    booleans and ``None`` are kept. The input is not modified.

    Args:
        obj: a ``str``, ``dict``, ``list``, ``tuple``, number, bool or ``None``.

    Returns:
        ``(new_obj, findings)``: a redacted copy and a :class:`ValueFinding` per secret.

    Raises:
        TypeError: the value holds something that is not JSON-like (secrets inside it
            could not be checked).
        ImportError: ``detect-secrets`` is not installed.
    """
    findings: list[ValueFinding] = []

    def walk(value: Any, path: tuple[Any, ...]) -> Any:
        if isinstance(value, str):
            result = redact(value)
            findings.extend(ValueFinding(path, f) for f in result.findings)
            return result.text
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                if isinstance(key, str):
                    redacted_key = redact(key)
                    key = redacted_key.text
                    findings.extend(ValueFinding(path + (key,), f, True) for f in redacted_key.findings)
                out[key] = walk(item, path + (key,))
            return out
        if isinstance(value, (list, tuple)):
            return type(value)(walk(item, path + (i,)) for i, item in enumerate(value))
        if value is None or isinstance(value, (bool, int, float)):
            return value
        raise TypeError(f"redact_value() cannot check a {type(value).__name__} at {list(path)}")

    return walk(obj, ()), tuple(findings)
