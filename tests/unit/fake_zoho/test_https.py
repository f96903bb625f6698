"""The emulator serves HTTPS with a certificate it is given; HTTP stays the default."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
import requests

from bench.stack import Certificate
from fake_zoho import FakeZoho


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command line is not installed")
    made = Certificate.self_signed(tmp_path_factory.mktemp("tls"))  # the sweep bench's, with `openssl`
    return str(made.certfile), str(made.keyfile)


@pytest.fixture
def secure_zoho(certificate: tuple[str, str]) -> Iterator[FakeZoho]:
    with FakeZoho(tls=certificate) as zoho:
        yield zoho


def test_http_is_the_default() -> None:
    with FakeZoho() as zoho:
        assert zoho.url.startswith("http://127.0.0.1:")
        assert requests.get(f"{zoho.url}/__admin/clock", timeout=5).status_code == 200


def test_it_answers_over_https_to_a_client_that_trusts_the_certificate(
    secure_zoho: FakeZoho, certificate: tuple[str, str]
) -> None:
    assert secure_zoho.url.startswith("https://127.0.0.1:")
    reply = requests.get(f"{secure_zoho.url}/__admin/clock", timeout=5, verify=certificate[0])
    assert reply.status_code == 200 and "now" in reply.json()
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{secure_zoho.url}/__admin/clock", timeout=5, verify=True)
