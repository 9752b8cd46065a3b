"""A secret put where the NAME of its variable belongs is never echoed back."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from jobs.config import runbook_config_text
from jobs.publishers import EmailPublisher, EmailSettings, PublisherConfigError
from tests.conftest import Capplan

EMAIL = {"host": "127.0.0.1", "from_address": "capplan@example.org"}


@pytest.mark.parametrize("secret", ["hunter2!", "s3cr3t pass", "9StartsWithDigit", "p@ss"])
@pytest.mark.parametrize("field", ["username_env", "password_env"])
def test_config_validate_names_the_field_not_the_value(
    capplan: Capplan, tmp_path: Path, secret: str, field: str
) -> None:
    data = yaml.safe_load(runbook_config_text())
    login = {"username_env": "CAPPLAN_SMTP_USER", "password_env": "CAPPLAN_SMTP_PASSWORD"}
    data["publish"] = {"email": {**EMAIL, **login, field: secret}}
    path = tmp_path / "capplan.yaml"
    path.write_text(yaml.safe_dump(data))
    result = capplan("config", "validate", str(path), expect=2)
    assert f"publish.email.{field}" in result.stderr
    assert "NAME of an environment variable" in result.stderr
    assert secret not in result.output


def test_an_unset_variable_is_named_by_its_field() -> None:
    # "Hunter2024" passes as a variable name; it is the password all the same.
    settings = EmailSettings.model_validate(
        {**EMAIL, "username_env": "CAPPLAN_SMTP_USER", "password_env": "Hunter2024"}
    )
    with pytest.raises(PublisherConfigError) as caught:
        EmailPublisher(settings, env={"CAPPLAN_SMTP_USER": "capplan"})
    message = str(caught.value)
    assert "publish.email.password_env" in message and "not set" in message
    assert "Hunter2024" not in message
    assert "username_env" not in message
