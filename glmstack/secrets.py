"""What a secret looks like, in one place: the shapes host data is checked against, and the one
redaction every output uses (errors, `glmstack plan` text and JSON, `render`, `drift`).

A secret belongs in a 0600 file named by a setting meant for it (SECRET_FILE_SETTINGS); anywhere
else in host data it would reach a unit, a 0644 file, a command line or a log. Host data is
refused when a value has a secret's shape; what still reaches an output is redacted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

# The settings meant for secrets: each names a 0600 file on the control machine, never the secret.
SECRET_FILE_SETTINGS = ("model_hf_token_file", "model_modelscope_token_file", "service_api_key_file")
SECRET_FILES_IN_WORDS = ("a 0600 file named by model_hf_token_file (hub token), model_modelscope_token_file "
                         "(ModelScope token) or service_api_key_file (the API key clients send)")
REDACTED = "<redacted>"


@dataclass(frozen=True)
class SecretShape:
    """A kind of secret recognisable by its shape alone, and the setting that carries it (None:
    glmstack passes no such secret to a host)."""

    what: str
    pattern: re.Pattern[str]
    carrier: str | None = None


SECRET_SHAPES = (
    SecretShape("a Hugging Face token (hf_...)", re.compile(r"(?<![A-Za-z0-9])hf_[A-Za-z0-9]{30,}"),
                "model_hf_token_file"),
    SecretShape("an API key (sk-...)", re.compile(r"(?<![A-Za-z0-9])sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}"),
                "service_api_key_file"),
    SecretShape("a GitHub token",
                re.compile(r"(?<![A-Za-z0-9])(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})")),
    SecretShape("a GitLab token (glpat-...)", re.compile(r"(?<![A-Za-z0-9])glpat-[A-Za-z0-9_-]{20,}")),
    SecretShape("an AWS access key id", re.compile(r"(?<![A-Za-z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Za-z0-9])")),
    SecretShape("a JSON Web Token",
                re.compile(r"(?<![A-Za-z0-9])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")),
    SecretShape("a Slack token (xox...)", re.compile(r"(?<![A-Za-z0-9])xox[abprs]-[A-Za-z0-9-]{10,}")),
    SecretShape("an HTTP Authorization credential (Bearer or Basic ...)",
                re.compile(r"(?<![A-Za-z0-9])(?:[Bb]earer|[Bb]asic)\s+(?=[A-Za-z0-9._~+/-]*\d)"
                           r"[A-Za-z0-9._~+/-]{16,}=*")),
    SecretShape("a Google OAuth token (ya29....)", re.compile(r"(?<![A-Za-z0-9])ya29\.[A-Za-z0-9_-]{20,}")),
    SecretShape("a Google API key (AIza...)", re.compile(r"(?<![A-Za-z0-9])AIza[0-9A-Za-z_-]{35}")),
    SecretShape("a private key",
                re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----(?:[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----|[\s\S]*)")),
)

# Query parameters that carry a credential: presigned and signed URLs (S3, GCS, Azure SAS) and
# tokens passed in the URL. Compared without case.
SECRET_QUERY_PARAMETERS = frozenset({
    "x-amz-signature", "x-amz-credential", "x-amz-security-token", "x-goog-signature", "x-goog-credential",
    "signature", "sig", "token", "access_token", "id_token", "refresh_token", "auth", "key", "api_key",
    "apikey", "api-key", "password", "passwd", "secret", "client_secret", "private_token",
})
# Schemes whose user part is itself a credential (a token passed as the user name); on others
# (ssh://git@host) only a password is.
USER_IS_SECRET_SCHEMES = ("http", "https", "ftp", "ftps", "git+http", "git+https", "socks5", "socks5h", "socks4")
# A scheme of at most 32 characters: an unbounded one makes a long word quadratic to scan.
URL_IN_TEXT = re.compile(r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{0,31}://[^\s\"'<>]+")

# Engine options that carry a secret, whatever their value, and the setting that carries it instead.
SECRET_FLAGS = {
    "--api-key": "service_api_key_file",
    "--admin-api-key": None,
    "--hf-token": "model_hf_token_file",
    "-hft": "model_hf_token_file",
    "--token": "model_hf_token_file",
    "--ssl-keyfile-password": None,
    "--password": None,
}
# Words in an option's name that say its value may be a secret (--foo-key, --db-password).
SECRET_FLAG_WORDS = frozenset({"key", "token", "secret", "password", "passwd", "apikey", "credential",
                               "credentials", "pat"})
# Environment variable names whose values are secrets (glmstack.hostdata refuses them in extra_env),
# matched on the name's _-separated words, without case: any word of SECRET_ENV_WORDS (HF_TOKEN,
# DB_PASSWORD; not TOKENIZERS_PARALLELISM), or a last word of SECRET_ENV_LAST_WORDS (OPENAI_KEY,
# API_KEY; not KEY_PATH).
SECRET_ENV_WORDS = frozenset({"TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIALS", "AUTH", "APIKEY"})
SECRET_ENV_LAST_WORDS = frozenset({"KEY"})
# Values that only switch something on or off: no secret, whatever the variable's name
# (HF_HUB_DISABLE_IMPLICIT_TOKEN=1). Compared without case.
PLAIN_SWITCHES = frozenset({"0", "1", "true", "false", "yes", "no", "on", "off"})


def env_name_says_secret(name: str) -> bool:
    """A variable name whose value is a secret, by its words (SECRET_ENV_WORDS, SECRET_ENV_LAST_WORDS)."""
    words = [word for word in name.upper().split("_") if word]
    return bool(words) and (bool(SECRET_ENV_WORDS.intersection(words)) or words[-1] in SECRET_ENV_LAST_WORDS)


def plain_switch(value: object) -> bool:
    """A value that only switches something (PLAIN_SWITCHES): never a secret."""
    return isinstance(value, str) and value.strip().lower() in PLAIN_SWITCHES


def shape_of(text: str) -> SecretShape | None:
    """The secret shape the text holds, if any."""
    return next((shape for shape in SECRET_SHAPES if shape.pattern.search(text)), None)


def url_secret(url: str) -> str | None:
    """What in a URL is a credential (in words), or None."""
    try:
        parts = urlsplit(url.strip())
        password = parts.password
        user = parts.username
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if password:
        return "a password (user:password@)"
    if user is not None and scheme in USER_IS_SECRET_SCHEMES:
        return "credentials (user@)"
    for name, _ in parse_qsl(parts.query, keep_blank_values=True):
        if name.lower() in SECRET_QUERY_PARAMETERS:
            return f"a signed or token query ({name}=)"
    for name, _ in parse_qsl(parts.fragment, keep_blank_values=True):
        if name.lower() in SECRET_QUERY_PARAMETERS:
            return f"a token in its fragment ({name}=)"
    return None


def secret_in(text: str) -> str | None:
    """What secret a value holds, in words (never the value), or None: a secret's shape, or a URL
    anywhere in it with credentials or a signed query."""
    shape = shape_of(text)
    if shape is not None:
        return shape.what
    for url in URL_IN_TEXT.findall(text):
        what = url_secret(url)
        if what is not None:
            return f"a URL with {what}"
    return None


def carrier_of(text: str) -> str | None:
    shape = shape_of(text)
    return shape.carrier if shape else None


def flag_name(word: str) -> str:
    """An option's name as the engines read it: before any '=', underscores as dashes."""
    name = word.split("=", 1)[0]
    return name[:2] + name[2:].replace("_", "-") if name.startswith("--") else name


def flag_says_secret(name: str) -> bool:
    """An option or variable name that says its value may be a secret: its last word is one of
    SECRET_FLAG_WORDS (--api-key, HF_TOKEN; not --tokenizer, --max-num-batched-tokens), or it
    names a secret or password anywhere."""
    words = [word for word in re.split(r"[-_.]+", name.lstrip("-").lower()) if word]
    return bool(words) and (words[-1] in SECRET_FLAG_WORDS or bool({"secret", "password", "passwd"} & set(words))
                            or "api_key" in name.lower().replace("-", "_"))


def high_entropy(value: str) -> bool:
    """A long random-looking string: 16+ characters, letters mixed with digits, 3.5+ bits a character."""
    if len(value) < 16 or value.startswith(("/", ".")) or not re.search(r"[A-Za-z]", value) \
            or not re.search(r"\d", value):
        return False
    counts = {c: value.count(c) for c in set(value)}
    entropy = -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())
    return entropy >= 3.5


def redact(text: str) -> str:
    """The text with every secret it holds replaced: secret shapes, URL credentials and signed
    queries, values of secret options (--api-key X, --api-key=X) and of secret variables (NAME=X)."""
    if not isinstance(text, str) or not text:
        return text
    for shape in SECRET_SHAPES:
        text = shape.pattern.sub(REDACTED, text)
    text = URL_IN_TEXT.sub(lambda match: _redact_url(match.group(0)), text)

    def option(match: re.Match[str]) -> str:
        name = flag_name(match.group(1))
        if name in SECRET_FLAGS or (flag_says_secret(name) and high_entropy(match.group(3))):
            return f"{match.group(1)}{match.group(2)}{REDACTED}"
        return match.group(0)

    # A value never starts with '-' (the next option) nor '(' (words of a message about the option).
    text = re.sub(r"(?<!\S)(--?[A-Za-z][\w.-]*)(=|\s+)(?![-(])(\S+)", option, text)

    def variable(match: re.Match[str]) -> str:
        if flag_says_secret(match.group(1)):
            return f"{match.group(1)}={REDACTED}"
        return match.group(0)

    return re.sub(r"(?<![\w-])([A-Za-z_][A-Za-z0-9_]*)=(\"[^\"]*\"|\S+)", variable, text)


def _redact_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc and (parts.password or parts.scheme.lower() in USER_IS_SECRET_SCHEMES):
            netloc = f"{REDACTED}@{netloc.rsplit('@', 1)[1]}"
        query = "&".join(f"{name}={REDACTED}" if name.lower() in SECRET_QUERY_PARAMETERS else
                         (f"{name}={value}" if value or "=" in pair else name)
                         for pair in parts.query.split("&") if pair
                         for name, _, value in [pair.partition("=")])
        return parts._replace(netloc=netloc, query=query).geturl()
    except ValueError:
        return REDACTED


def redact_words(words: Iterable[str]) -> list[str]:
    """An argument list with the value after each secret option redacted, and each word redacted."""
    out: list[str] = []
    hide_next = False
    for word in words:
        if hide_next and isinstance(word, str) and not word.startswith("-"):
            out.append(REDACTED)
            hide_next = False
            continue
        hide_next = False
        if isinstance(word, str) and word.startswith("-") and "=" not in word:
            hide_next = flag_name(word) in SECRET_FLAGS
        out.append(redact_data(word))
    return _entropy_pass(out)


def _entropy_pass(words: list[Any]) -> list[Any]:
    """After an option whose name says secret, a random-looking value is hidden too."""
    out = list(words)
    for at, word in enumerate(words[1:], start=1):
        before = words[at - 1]
        if isinstance(before, str) and isinstance(word, str) and before.startswith("-") \
                and flag_says_secret(flag_name(before)) and high_entropy(word):
            out[at] = REDACTED
    return out


def redact_data(data: Any) -> Any:
    """A document (dicts, lists, strings) with every secret redacted: strings as redact() does,
    lists as argument lists, dict values under secret names."""
    if isinstance(data, str):
        return redact(data)
    if isinstance(data, dict):
        return {key: (REDACTED if isinstance(key, str) and isinstance(value, str) and value and
                      flag_says_secret(key) and not plain_switch(value) else redact_data(value))
                for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return redact_words(data) if all(isinstance(word, str) for word in data) else \
            [redact_data(item) for item in data]
    return data
