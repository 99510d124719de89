"""``gridcall users add`` (password from standard input), ``gridcall serve``, and the
messages of ``replay`` and ``evaluate`` for a file that is not there."""

from __future__ import annotations

import io
from typing import Any

import pytest
from sqlalchemy import Engine
from test_api_support import TestClient, make_app

from api.auth import Role, authenticate
from api.cli import main


@pytest.fixture
def cli_env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("GRIDCALL_DATABASE_URL", db_url)
    monkeypatch.setenv("GRIDCALL_BCRYPT_ROUNDS", "4")
    monkeypatch.delenv("GRIDCALL_SECRET_KEY", raising=False)
    monkeypatch.setenv("GRIDCALL_ENVIRONMENT", "development")
    return db_url


def run(monkeypatch: pytest.MonkeyPatch, argv: list[str], stdin: str = "") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(argv)


def test_users_add_reads_the_password_from_stdin(
    cli_env: str,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert (
        run(monkeypatch, ["users", "add", "zhang.wei", "--role", "dispatcher"], "s3cret 密码\n")
        == 0
    )
    assert "added user zhang.wei (dispatcher)" in capsys.readouterr().out
    user = authenticate(engine, "zhang.wei", "s3cret 密码")
    assert user.role is Role.DISPATCHER
    # and the user logs in to the app
    with TestClient(make_app(engine, None)) as client:
        r = client.post(
            "/api/auth/token", data={"username": "zhang.wei", "password": "s3cret 密码"}
        )
        assert r.status_code == 200
        assert r.json()["role"] == "dispatcher"
    assert run(monkeypatch, ["users", "list"]) == 0
    assert "zhang.wei\tdispatcher\tenabled" in capsys.readouterr().out


def test_an_empty_password_is_refused(
    cli_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for stdin in ("", "\n", "\r\n", "   \n"):
        assert run(monkeypatch, ["users", "add", "li", "--role", "agent"], stdin) == 2
        err = capsys.readouterr().err
        assert "empty password" in err
        assert "standard input" in err
    assert run(monkeypatch, ["users", "list"]) == 0
    assert "li\t" not in capsys.readouterr().out


def test_a_taken_name_a_long_password_and_an_unknown_role(
    cli_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(monkeypatch, ["users", "add", "wang", "--role", "agent"], "pw\n") == 0
    assert run(monkeypatch, ["users", "add", "wang", "--role", "admin"], "other\n") == 2
    assert "already exists" in capsys.readouterr().err
    assert run(monkeypatch, ["users", "add", "chen", "--role", "agent"], "长" * 30 + "\n") == 2
    assert "72 bytes" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        run(monkeypatch, ["users", "add", "zhao", "--role", "boss"], "pw\n")
    assert exit_.value.code == 2


def test_users_disable(
    cli_env: str,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(monkeypatch, ["users", "add", "sun", "--role", "agent"], "pw\n") == 0
    assert run(monkeypatch, ["users", "disable", "sun"]) == 0
    from api.auth import AuthError

    with pytest.raises(AuthError):
        authenticate(engine, "sun", "pw")
    assert run(monkeypatch, ["users", "disable", "sun", "--enable"]) == 0
    assert authenticate(engine, "sun", "pw").name == "sun"
    assert run(monkeypatch, ["users", "disable", "nobody"]) == 2


def test_serve_runs_the_app_with_uvicorn(
    cli_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[dict[str, Any]] = []

    def fake_run(app: Any, **kwargs: Any) -> None:
        calls.append({"app": app, **kwargs})

    monkeypatch.setattr("uvicorn.run", fake_run)
    assert run(monkeypatch, ["serve"]) == 0
    assert calls[0]["host"] == "127.0.0.1" and calls[0]["port"] == 8000
    assert calls[0]["app"].title == "gridcall"
    assert run(monkeypatch, ["serve", "--host", "0.0.0.0", "--port", "8080"]) == 0
    assert (calls[1]["host"], calls[1]["port"]) == ("0.0.0.0", 8080)
    monkeypatch.setenv("GRIDCALL_ENVIRONMENT", "production")
    assert run(monkeypatch, ["serve"]) == 2
    assert "GRIDCALL_SECRET_KEY" in capsys.readouterr().err
    assert len(calls) == 2


def test_replay_and_evaluate_name_a_file_that_is_not_there(
    cli_env: str, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """A mistyped path gets one line saying so and exit status 2, not a traceback (and a
    replay does not load the network first)."""
    assert main(["replay", str(tmp_path / "calls.csv")]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'calls.csv'}: no such file\n"
    assert main(["evaluate", str(tmp_path), str(tmp_path / "truth.csv")]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path}: is a directory\n"


def test_a_replay_whose_reader_goes_away_stops_without_a_traceback(tmp_path: Any) -> None:
    """``gridcall replay calls.csv | head -n 1``: the replay stops when ``head`` has read
    its line, with the status a shell gives a tool whose pipe closed, and no traceback."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from layers.synthetic import synthetic_grid

    gridcall = str(Path(sys.executable).with_name("gridcall"))
    env = {**os.environ, "GRIDCALL_DATABASE_URL": f"sqlite:///{tmp_path / 'g.db'}"}
    package = synthetic_grid(3, sections_per_feeder=8).write(tmp_path / "grid.gpkg")
    subprocess.run([gridcall, "layers", "import", str(package)], env=env, check=True)
    # more answers than a pipe holds (64 KiB), so that the replay writes after head left
    calls = tmp_path / "calls.csv"
    rows = [f"Q{i},2026-07-15T21:{i // 60:02d}:{i % 60:02d}+08:00,consult" for i in range(2000)]
    calls.write_text("call_id,received_at,category\n" + "\n".join(rows) + "\n", encoding="utf-8")
    done = subprocess.run(
        f"'{gridcall}' replay '{calls}' | head -n 1; echo \"status ${{PIPESTATUS[0]}}\"",
        check=False,
        shell=True,
        executable="/bin/bash",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = done.stdout.splitlines()
    assert len(lines) == 2 and lines[0].startswith('{"call_id"'), done.stdout
    assert lines[1] == "status 141"
    assert "Traceback" not in done.stderr, done.stderr
