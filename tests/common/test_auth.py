"""Callers authenticated by mTLS certificates or bearer tokens, against a real server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from fraudstream.common import certs
from fraudstream.common.auth import Authenticator, TokenTable, token_digest
from fraudstream.common.grpc_server import GrpcService, build_grpc_service
from fraudstream.common.transport import Transport

SERVICE = "test.Cases"
POLICY = {"Report": {"service:ingest"}, "List": {"viewer"}, "Label": {"labeler"}}


def _register(server: grpc.Server) -> None:
    def echo(request: bytes, _context: grpc.ServicerContext) -> bytes:
        return request

    handlers = {m: grpc.unary_unary_rpc_method_handler(echo) for m in (*POLICY, "Unlisted")}
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))


def _tokens() -> TokenTable:
    lines = [
        f"alice labeler {token_digest('alice-secret')}",
        f"victor viewer {token_digest('victor-secret')}",
        f"ingest service:ingest {token_digest('ingest-secret')}  # plaintext service credential",
    ]
    return TokenTable.parse(lines, "tokens")


@pytest.fixture(scope="module")
def cert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("certs")
    certs.make_certificates(directory)
    return directory


def _transport(cert_dir: Path, name: str, token: str | None = None) -> Transport:
    files = certs.paths(cert_dir, name)
    return Transport(files.cert, files.key, cert_dir / "ca.pem", token)


def _serve(transport: Transport) -> GrpcService:
    service = build_grpc_service(
        host="127.0.0.1",
        port=0,
        max_workers=4,
        service_names=[SERVICE],
        register=_register,
        transport=transport,
        authenticator=Authenticator(_tokens(), POLICY),
    )
    service.start()
    service.set_serving(True)
    return service


@pytest.fixture(scope="module")
def mtls_server(cert_dir: Path) -> Iterator[GrpcService]:
    service = _serve(_transport(cert_dir, "feedback"))
    yield service
    service.stop(0)


def _call(transport: Transport, port: int, method: str) -> grpc.StatusCode:
    with transport.channel(f"localhost:{port}") as channel:
        try:
            channel.unary_unary(f"/{SERVICE}/{method}")(b"x", timeout=5)
        except grpc.RpcError as exc:
            return exc.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


@pytest.mark.parametrize(
    ("who", "token", "method", "expected"),
    [
        ("ingest", None, "Report", grpc.StatusCode.OK),
        ("scorer", None, "Report", grpc.StatusCode.PERMISSION_DENIED),
        ("client", None, "List", grpc.StatusCode.UNAUTHENTICATED),
        ("client", "victor-secret", "List", grpc.StatusCode.OK),
        ("client", "victor-secret", "Label", grpc.StatusCode.PERMISSION_DENIED),
        ("client", "alice-secret", "Label", grpc.StatusCode.OK),
        ("client", "alice-secret", "List", grpc.StatusCode.OK),  # a labeler may read
        ("client", "alice-secret", "Report", grpc.StatusCode.PERMISSION_DENIED),
        ("client", "stolen", "List", grpc.StatusCode.UNAUTHENTICATED),
        ("ingest", None, "Unlisted", grpc.StatusCode.PERMISSION_DENIED),  # fail closed
    ],
)
def test_each_rpc_admits_only_its_roles(
    mtls_server: GrpcService,
    cert_dir: Path,
    who: str,
    token: str | None,
    method: str,
    expected: grpc.StatusCode,
) -> None:
    assert _call(_transport(cert_dir, who, token), mtls_server.port, method) == expected


def test_a_caller_without_a_certificate_cannot_connect(mtls_server: GrpcService) -> None:
    code = _call(Transport(token="alice-secret"), mtls_server.port, "List")
    assert code == grpc.StatusCode.UNAVAILABLE


def test_a_certificate_from_another_ca_is_refused(
    mtls_server: GrpcService, cert_dir: Path, tmp_path: Path
) -> None:
    certs.make_certificates(tmp_path, ["ingest"])
    rogue = Transport(tmp_path / "ingest.pem", tmp_path / "ingest.key", cert_dir / "ca.pem")
    assert _call(rogue, mtls_server.port, "Report") == grpc.StatusCode.UNAVAILABLE


def test_health_is_open_to_any_certificate_holder(mtls_server: GrpcService, cert_dir: Path) -> None:
    with _transport(cert_dir, "client").channel(f"localhost:{mtls_server.port}") as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=5
        )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_plaintext_services_identify_with_their_token() -> None:
    service = _serve(Transport())
    try:
        assert _call(Transport(token="ingest-secret"), service.port, "Report") == grpc.StatusCode.OK
        assert _call(Transport(), service.port, "Report") == grpc.StatusCode.UNAUTHENTICATED
        anonymous = Transport()
        with anonymous.channel(f"127.0.0.1:{service.port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            assert health.Check(health_pb2.HealthCheckRequest(), timeout=5).status
    finally:
        service.stop(0)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("alice labeler", "expected"),
        ("alice boss sha256:" + "0" * 64, "unknown role"),
        ("alice labeler sha256:abc", "64 hex digits"),
    ],
)
def test_a_bad_tokens_file_line_is_named(line: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"tokens:1: .*{message}"):
        TokenTable.parse([line], "tokens")


def test_renewing_keeps_the_ca_and_replaces_the_leaf(tmp_path: Path) -> None:
    certs.make_certificates(tmp_path, ["scorer"])
    ca, leaf = (tmp_path / "ca.pem").read_bytes(), (tmp_path / "scorer.pem").read_bytes()
    certs.make_certificates(tmp_path, ["scorer"])
    assert (tmp_path / "scorer.pem").read_bytes() == leaf
    certs.make_certificates(tmp_path, ["scorer"], renew=True)
    assert (tmp_path / "ca.pem").read_bytes() == ca
    assert (tmp_path / "scorer.pem").read_bytes() != leaf
    assert (tmp_path / "scorer.key").stat().st_mode & 0o077 == 0
