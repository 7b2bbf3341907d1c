"""Schemathesis against the served OpenAPI schema: generated valid and invalid requests, never a 5xx.

Runs in process (ASGI, no socket). ``FUZZ_EXAMPLES`` per operation, 7 operations, both
positive and negative generation: well over 1,000 requests (counted and asserted).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the service needs the 'serve' extra: pip install 'mfrec[serve]'")
schemathesis = pytest.importorskip("schemathesis", reason="fuzzing needs schemathesis (the dev extra)")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from service_support import save_small_model  # noqa: E402

from mfrec.service import create_app  # noqa: E402

FUZZ_EXAMPLES = 250
TOKEN = "fuzz-token"
sent: list[int] = []


# Built at import: schemathesis parametrizes from the loaded schema at collection time.
_folder = Path(tempfile.mkdtemp(prefix="mfrec-fuzz-"))
schema = schemathesis.openapi.from_asgi(
    "/openapi.json", create_app(save_small_model(_folder / "model"), _folder / "log.sqlite", token=TOKEN)
)


@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)
def test_no_request_gets_a_server_error(case):
    # Half the write requests carry the token, so the handlers behind the auth check are fuzzed too.
    headers = {"Authorization": f"Bearer {TOKEN}"} if len(sent) % 2 == 0 else None
    response = case.call(headers=headers)
    sent.append(response.status_code)
    case.validate_response(response, checks=[not_a_server_error])
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert "error" in response.json() and "Traceback" not in response.text


def test_the_fuzzer_sent_over_a_thousand_requests_and_no_5xx():
    if not sent:
        pytest.skip("run together with test_no_request_gets_a_server_error")
    assert len(sent) >= 1000, len(sent)
    assert max(sent) < 500
