"""OpenAPI-driven fuzzing of the service (schemathesis, bounded): no input makes it answer 5xx,
and every error is problem+json."""

from __future__ import annotations

import pytest
from conftest_service import service_project
from tree_guard import example_project

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402

from bannergen.service import Service, create_app  # noqa: E402

ROOT = example_project()  # the example project; what tests write stays out of the working tree
KEY = "fuzz-key"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    project = service_project(ROOT, tmp)
    service = Service(project, keys=(KEY,))
    yield create_app(service, close_on_shutdown=False)
    service.close()


def test_no_input_gives_5xx(app):
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures = []
    for operation in schema.get_all_operations():
        op = operation.ok()

        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=op.as_strategy())
        def check(case):
            for headers in ({"authorization": f"Bearer {KEY}"}, {}):
                response = case.call(headers=headers)
                if response.status_code >= 500:
                    failures.append((case.method, case.path, case.body, response.status_code, response.text[:200]))
                elif response.status_code >= 400:
                    ctype = response.headers.get("content-type")
                    ctype = ctype[0] if isinstance(ctype, list) else ctype
                    assert ctype == "application/problem+json", response.text

        check()
    assert not failures, failures[:5]
