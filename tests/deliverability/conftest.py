import pytest

from mailherd.api.services import api_token_create
from mailherd.core.actors import Actor
from tests.hosting.conftest import verified_domain


@pytest.fixture
def acme_domain(tenants):
    return verified_domain(tenants.acme, "acme.test")


@pytest.fixture
def globex_domain(tenants):
    return verified_domain(tenants.globex, "globex.test")


@pytest.fixture
def api(client, tenants):
    """Calls the API as Acme (alice's organization)."""
    _token, plaintext = api_token_create(
        actor=Actor.for_user(tenants.alice), organization=tenants.acme, name="dmarc"
    )

    class Api:
        headers = {"HTTP_AUTHORIZATION": f"Bearer {plaintext}"}

        def post_raw(self, path, body: bytes, content_type="application/octet-stream"):
            return client.post(
                "/api/v1" + path, data=body, content_type=content_type, **self.headers
            )

        def post_file(self, path, body: bytes, filename="report.xml.gz"):
            from django.core.files.uploadedfile import SimpleUploadedFile

            return client.post(
                "/api/v1" + path, {"file": SimpleUploadedFile(filename, body)}, **self.headers
            )

        def get(self, path):
            return client.get("/api/v1" + path, **self.headers)

    return Api()


def ingest(domain, data: bytes):
    from mailherd.deliverability.services import report_ingest

    return report_ingest(actor=Actor.system(), domain=domain, data=data, received_via="api")


def ingest_days(domain, *, days: int, rows_for_day, reporter="google.com"):
    """One aggregate report a day for the last `days` days (today included)."""
    from datetime import date, timedelta

    from tests.deliverability.reports import aggregate_xml

    today = date.today()
    for offset in range(days):
        day = today - timedelta(days=offset)
        ingest(
            domain,
            aggregate_xml(domain=domain.name, rows=rows_for_day(day), day=day, reporter=reporter),
        )
