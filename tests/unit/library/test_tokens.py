"""TokenProvider on moto and the emulator: cache layers, expiry margin, single-flight refresh, rate limits."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable

import boto3
import pytest
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from botocore.exceptions import ClientError
from zoho_watch.config import Settings
from zoho_watch.errors import ConnectionNotConfigured, ZohoAuthError, ZohoRateLimited
from zoho_watch.tokens import TokenProvider, lease_key
from zoho_watch.zoho import ZohoClient

from fake_zoho import FakeZoho
from tests.fixtures.aws import AwsStack

TOKEN_SECRET = "zoho-watch/default/access-token"


ContainerFactory = Callable[..., TokenProvider]


@pytest.fixture
def make_container(aws: AwsStack, zoho: FakeZoho) -> ContainerFactory:
    """Build TokenProviders, each with its own memory and secret cache, as separate Lambda containers have.

    boto3 clients are thread-safe and slow to build, so the containers of one test share them.
    """
    secrets_client = boto3.client("secretsmanager", region_name="us-east-1")
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")

    def build(
        clock: Callable[[], float] | None = None, sleep: Callable[[float], None] = time.sleep
    ) -> TokenProvider:
        return TokenProvider(
            "default",
            settings=Settings.from_env(),
            secrets=SecretsProvider(boto3_client=secrets_client),
            secrets_client=secrets_client,
            dynamodb=dynamodb,
            zoho=ZohoClient(connect_timeout=2, read_timeout=5),
            clock=clock or zoho.clock.now,
            sleep=sleep,
        )

    return build


def run_threads(count: int, work: Callable[[int], object]) -> list[object]:
    """Run `work(i)` in `count` threads released at once; results (or exceptions) by index."""
    results: list[object] = [None] * count
    barrier = threading.Barrier(count)

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = work(index)
        except Exception as error:  # collected for the assertions
            results[index] = error

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_refresh_then_memory_then_secret(
    make_container: ContainerFactory, aws: AwsStack, zoho: FakeZoho, zoho_connection: str
) -> None:
    zoho.clock.freeze()
    first = make_container()
    token = first.get()
    assert zoho.counters["token_refreshes"] == 1
    stored = aws.read_secret(TOKEN_SECRET)
    assert stored == {
        "access_token": token.access_token,
        "api_domain": zoho.url,
        "expires_at": token.expires_at,
    }
    assert token.expires_at == pytest.approx(zoho.clock.now() + 3600)
    assert first.get() is token  # memory
    second = make_container()
    assert second.get() == token  # the secret, no refresh
    assert zoho.counters["token_refreshes"] == 1
    assert token.access_token not in repr(token)


def test_token_is_replaced_shortly_before_it_expires(
    make_container: ContainerFactory, aws: AwsStack, zoho: FakeZoho, zoho_connection: str
) -> None:
    zoho.clock.freeze()
    provider = make_container()
    token = provider.get()
    margin = Settings.from_env().token_refresh_margin_seconds
    zoho.clock.advance(3600 - margin - 1)
    assert provider.get() is token
    zoho.clock.advance(2)
    fresh = provider.get()
    assert fresh.access_token != token.access_token
    assert zoho.counters["token_refreshes"] == 2


def test_legacy_reply_expires_in_sec_is_honoured(
    make_container: ContainerFactory, aws: AwsStack, zoho: FakeZoho, zoho_connection: str
) -> None:
    zoho.clock.freeze()
    zoho.config.update(legacy_token_reply=True)
    token = make_container().get()
    assert token.expires_at == pytest.approx(zoho.clock.now() + 3600)


@pytest.mark.parametrize("share_one_container", [False, True])
def test_fifty_threads_with_an_expired_token_refresh_once(
    make_container: ContainerFactory,
    aws: AwsStack,
    zoho: FakeZoho,
    zoho_connection: str,
    share_one_container: bool,
) -> None:
    zoho.clock.freeze()
    # An expired token is in the secret: everyone must replace it.
    aws.secrets.create_secret(
        Name=TOKEN_SECRET,
        SecretString=json.dumps(
            {"access_token": "1000.old.old", "api_domain": zoho.url, "expires_at": zoho.clock.now() - 10}
        ),
    )
    shared = make_container()
    containers = [shared] * 50 if share_one_container else [make_container() for _ in range(50)]
    results = run_threads(50, lambda index: containers[index].get())
    assert all(not isinstance(result, Exception) for result in results), results
    assert len({result.access_token for result in results}) == 1  # type: ignore[union-attr]
    assert zoho.counters["token_refreshes"] == 1


def test_fifty_threads_rejected_by_zoho_refresh_once(
    make_container: ContainerFactory, aws: AwsStack, zoho: FakeZoho, zoho_connection: str
) -> None:
    zoho.clock.freeze()
    containers = [make_container() for _ in range(50)]
    old = containers[0].get()
    tokens = [container.get() for container in containers]
    assert {token.access_token for token in tokens} == {old.access_token}
    zoho.clock.advance(120)  # refreshes are spaced by a minute: this one comes later
    zoho.expire_access_tokens()  # Zoho now answers INVALID_TOKEN to it
    results = run_threads(50, lambda index: containers[index].replace_rejected(tokens[index]))
    assert all(not isinstance(result, Exception) for result in results), results
    assert len({result.access_token for result in results}) == 1  # type: ignore[union-attr]
    assert results[0].access_token != old.access_token  # type: ignore[union-attr]
    assert zoho.counters["token_refreshes"] == 2


def test_rejection_storm_is_spaced_not_amplified(
    make_container: ContainerFactory, aws: AwsStack, zoho: FakeZoho, zoho_connection: str
) -> None:
    zoho.clock.freeze()
    provider = make_container(sleep=lambda seconds: None)  # one thread: nothing to wait for
    token = provider.get()
    for _ in range(80):  # Zoho rejects every token, every 10 s, for 13 minutes
        zoho.clock.advance(10)
        zoho.expire_access_tokens()
        try:
            token = provider.replace_rejected(token)
        except ZohoRateLimited as error:
            assert error.retry_after is not None and 0 < error.retry_after <= 65
    times = zoho.counters["token_refresh_times"]
    assert zoho.counters["token_throttled"] == 0
    assert max(sum(1 for t in times if start <= t < start + 600) for start in times) <= 10


def test_revoked_refresh_token_is_an_auth_error_and_frees_the_lease(
    make_container: ContainerFactory,
    aws: AwsStack,
    zoho: FakeZoho,
    zoho_connection: str,
    zoho_credentials: dict[str, str],
) -> None:
    zoho.revoke_refresh_token(zoho_credentials["refresh_token"])
    provider = make_container()
    for _ in range(2):  # the second attempt is not blocked by a lease left behind
        with pytest.raises(ZohoAuthError) as caught:
            provider.get()
        assert caught.value.zoho_code == "invalid_code"
        assert zoho_credentials["refresh_token"] not in str(caught.value)


def test_missing_or_incomplete_credentials(
    make_container: ContainerFactory, aws: AwsStack, zoho: FakeZoho
) -> None:
    with pytest.raises(ConnectionNotConfigured, match="zoho-watch/default/credentials does not exist"):
        make_container().get()
    aws.write_credentials("default", {"client_id": "x", "accounts_url": zoho.url})
    with pytest.raises(ZohoAuthError, match="lacks client_secret, refresh_token"):
        make_container().get()
    assert zoho.counters["calls_total"] == 0


def test_a_missing_access_token_secret_that_may_not_be_created_stops_before_zoho(
    make_container: ContainerFactory,
    aws: AwsStack,
    zoho: FakeZoho,
    zoho_connection: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The stack's roles may not CreateSecret: `zoho-watch connect` must create both secrets.
    container = make_container()

    def denied(**kwargs: object) -> None:
        raise ClientError(
            {"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}}, "CreateSecret"
        )

    with monkeypatch.context() as patch:
        patch.setattr(container.connection_secrets._secrets_client, "create_secret", denied)
        with pytest.raises(ConnectionNotConfigured, match="zoho-watch/default/access-token does not exist"):
            container.get()
    assert zoho.counters["token_refreshes"] == 0 and zoho.counters["calls_total"] == 0  # no token wasted
    assert "Item" not in aws.dynamodb.get_item(TableName=aws.table_name, Key=lease_key("default"))
    # Where creating is allowed, the secret is created before the refresh and then holds the token.
    token = make_container().get()
    assert aws.read_secret(TOKEN_SECRET)["access_token"] == token.access_token  # type: ignore[index]
    assert zoho.counters["token_refreshes"] == 1


def test_a_day_of_twenty_workers_stays_within_zoho_limits(
    make_container: ContainerFactory, aws: AwsStack, zoho: FakeZoho, zoho_connection: str
) -> None:
    """20 workers check all day: Zoho Accounts sees <= 25 refreshes, never > 10 in 10 minutes."""
    zoho.clock.freeze()
    workers = [make_container() for _ in range(20)]
    job_id = zoho.create_job("Leads", total=10)
    client = ZohoClient()
    rng = random.Random(5)
    start = zoho.clock.now()
    while zoho.clock.now() < start + 86400:
        zoho.clock.advance(60)
        for worker in workers:
            token = worker.get()
            if rng.random() < 0.05:  # every worker calls Zoho often; each call proves the token is good
                snapshot = client.get_mass_update_status(
                    token.access_token, token.api_domain, "Leads", job_id
                )
                assert snapshot.total == 10
    times = zoho.counters["token_refresh_times"]
    assert 24 <= len(times) <= 25
    assert max(sum(1 for t in times if start <= t < start + 600) for start in times) <= 10
    assert zoho.counters["calls"]["status"] == {"200": zoho.counters["calls"]["status"]["200"]}
