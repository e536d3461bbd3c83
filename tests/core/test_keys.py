"""The install's own secrets: made on first start under ITSM_HOME (mode 0600), reused, overridden
by the environment, and never the built-in values outside the test suite."""

import threading

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from operational.core import encryption, keys
from operational.core.config import Settings


def _settings(home, **values) -> Settings:
    return Settings(environment="development", home=home, **values)


def test_first_start_makes_the_keys_with_mode_0600_and_later_starts_reuse_them(tmp_path):
    first = _settings(tmp_path)

    secret_file, totp_file = tmp_path / "secret.key", tmp_path / "totp.key"
    for path in (secret_file, totp_file):
        assert path.stat().st_mode & 0o777 == 0o600
    secret = first.secret_key.get_secret_value()
    assert secret == secret_file.read_text().strip()
    assert len(secret) >= 32 and secret != keys.BUILT_IN_SECRET_KEY
    Fernet(first.totp_key.get_secret_value())  # a usable key
    assert (first.secret_key_file, first.totp_key_file) == (secret_file, totp_file)

    again = _settings(tmp_path)
    assert again.secret_key == first.secret_key and again.totp_key == first.totp_key
    elsewhere = _settings(tmp_path / "other-install")
    assert elsewhere.secret_key != first.secret_key  # every install its own


def test_the_environment_overrides_the_files(tmp_path):
    secret, totp = "s" * 40, Fernet.generate_key().decode()
    settings = _settings(tmp_path, secret_key=secret, totp_key=f"{totp}, {keys.new_totp_key()}")

    assert settings.secret_key.get_secret_value() == secret
    assert keys.split_keys(settings.totp_key.get_secret_value())[0] == totp
    assert (settings.secret_key_file, settings.totp_key_file) == (None, None)
    assert not (tmp_path / "secret.key").exists() and not (tmp_path / "totp.key").exists()


def test_only_the_test_suite_runs_on_the_built_in_keys(tmp_path):
    test_suite = Settings(environment="test", home=tmp_path)
    assert test_suite.secret_key.get_secret_value() == keys.BUILT_IN_SECRET_KEY
    assert not (tmp_path / "secret.key").exists()

    for environment in ("development", "production"):
        with pytest.raises(ValidationError, match="built-in key"):
            Settings(environment=environment, home=tmp_path, secret_key=keys.BUILT_IN_SECRET_KEY)
        with pytest.raises(ValidationError, match="built-in key"):
            Settings(environment=environment, home=tmp_path, totp_key=keys.BUILT_IN_TOTP_KEY)
    with pytest.raises(ValidationError, match="32\\+ characters"):
        Settings(environment="production", home=tmp_path, secret_key="short")
    with pytest.raises(ValidationError, match="not a Fernet key"):
        _settings(tmp_path, totp_key="not-a-key")


def test_a_key_file_others_may_read_is_refused(tmp_path):
    _settings(tmp_path)
    (tmp_path / "secret.key").chmod(0o644)

    with pytest.raises(ValidationError, match="chmod 600"):
        _settings(tmp_path)


def test_processes_starting_together_agree_on_one_key(tmp_path):
    path = tmp_path / "secret.key"
    start = threading.Barrier(8)
    seen: list[str] = []

    def first_start() -> None:
        start.wait()
        seen.append(keys.read_or_create(path, keys.new_secret_key))

    threads = [threading.Thread(target=first_start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(seen) == 8 and len(set(seen)) == 1
    assert [entry.name for entry in tmp_path.iterdir()] == ["secret.key"]  # no leftovers


def test_secrets_are_encrypted_and_any_configured_key_opens_them(tmp_path):
    old, new = keys.new_totp_key(), keys.new_totp_key()
    before = _settings(tmp_path, totp_key=old)
    token = encryption.encrypt("JBSWY3DPEHPK3PXP", settings=before)
    assert "JBSWY3DPEHPK3PXP" not in token

    rotating = _settings(tmp_path, totp_key=f"{new},{old}")
    assert encryption.decrypt(token, settings=rotating) == "JBSWY3DPEHPK3PXP"
    rotated = encryption.reencrypt(token, settings=rotating)
    after = _settings(tmp_path, totp_key=new)
    assert encryption.decrypt(rotated, settings=after) == "JBSWY3DPEHPK3PXP"
    with pytest.raises(encryption.UndecryptableSecret):
        encryption.decrypt(token, settings=after)


def test_the_audit_key_is_the_installs_own_and_never_the_built_in_one(tmp_path):
    first = _settings(tmp_path)
    audit_file = tmp_path / "audit.key"
    assert audit_file.stat().st_mode & 0o777 == 0o600
    assert first.audit_key.get_secret_value() == audit_file.read_text().strip()
    assert first.audit_key.get_secret_value() != first.secret_key.get_secret_value()
    assert _settings(tmp_path).audit_key == first.audit_key
    with pytest.raises(ValueError, match="ITSM_AUDIT_KEY"):
        Settings(environment="development", home=tmp_path, audit_key=keys.BUILT_IN_AUDIT_KEY)
