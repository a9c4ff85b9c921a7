"""schemathesis hooks for scripts/fuzz: Prism's own checks on every answer."""

import json

import schemathesis

ERROR_FIELDS = {"code", "message", "timestamp"}


@schemathesis.check
def prism_error_format(ctx, response, case):
    """Every 4xx and 5xx carries the contract's error body, whatever the request was.

    `{"error": {"code", "message", "details", "remediation", "timestamp"}}`, with `code` an
    upper-case identifier; `details` and `remediation` may be absent or null.
    """
    if response.status_code < 400:
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        raise AssertionError(
            f"{response.status_code} with a body that is not JSON: {response.content[:200]!r}"
        )
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        raise AssertionError(f"{response.status_code} without an `error` object: {body!r}")
    missing = ERROR_FIELDS - error.keys()
    if missing:
        raise AssertionError(f"{response.status_code} error lacks {sorted(missing)}: {error!r}")
    code = error["code"]
    if not (isinstance(code, str) and code and code.replace("_", "").isalpha() and code.isupper()):
        raise AssertionError(f"error code {code!r} is not an upper-case identifier")
    if not isinstance(error["message"], str) or not error["message"]:
        raise AssertionError(f"error message is empty: {error!r}")
    return None


@schemathesis.check
def prism_identifies_itself(ctx, response, case):
    """Every answer says it comes from a prism daemon, so clients can tell it from squatters."""
    if "x-prism-daemon" not in response.headers:
        raise AssertionError("answer without the x-prism-daemon header")
    return None
