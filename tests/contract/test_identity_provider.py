"""Contract: Mailcow's identity-provider endpoints (reference mailcow-sso.md §1)."""

import pytest

from mailherd.mailcow.client import MailcowError

pytestmark = pytest.mark.contract

ATTR = {
    "authsource": "generic-oidc",
    "authorize_url": "https://idp.invalid/o/authorize/",
    "token_url": "https://idp.invalid/o/token/",
    "userinfo_url": "https://idp.invalid/o/userinfo/",
    "client_id": "cid",
    "client_secret": "csecret",
    "redirect_url": "https://mail.invalid",
    "client_scopes": "openid profile email",
    "login_provisioning": 0,
    "ignore_ssl_error": 0,
    "mappers": ["never"],
    "templates": ["Default"],
}


def test_first_missing_field_is_named(mailcow_client):
    with pytest.raises(MailcowError) as caught:
        mailcow_client.set_identity_provider(
            {k: v for k, v in ATTR.items() if k != "authorize_url"}
        )
    assert "authorize_url" in str(caught.value)


def test_saved_without_contacting_and_read_back_with_secret(mailcow_client):
    mailcow_client.set_identity_provider(ATTR)
    saved = mailcow_client.get_identity_provider()
    assert saved["authsource"] == "generic-oidc"
    assert saved["client_secret"] == "csecret"  # in clear: Mailcow's risk 3
    with pytest.raises(MailcowError):  # the token URL is unreachable: "Cannot edit item"
        mailcow_client.test_identity_provider(ATTR)


def test_oidc_mailbox_has_no_password_and_locks_the_provider(
    mailcow_client, mailcow_target, mailcow_cleanup
):
    domain = mailcow_target.unique_domain()
    mailcow_client.add_domain(
        domain, quota_mib=1024, max_mailbox_quota_mib=1024, default_mailbox_quota_mib=512
    )
    mailcow_cleanup.domains.append(domain)
    mailcow_client.set_identity_provider(ATTR)
    mailcow_client.add_mailbox(
        f"oidc@{domain}", password="Start-Pass-123456", quota_mib=10, authsource="generic-oidc"
    )
    mailcow_cleanup.mailboxes.append(f"oidc@{domain}")
    assert mailcow_client.get_mailbox(f"oidc@{domain}").authsource == "generic-oidc"
    with pytest.raises(MailcowError):
        mailcow_client.delete_identity_provider()  # authsource_in_use
    mailcow_client.edit_mailbox(f"oidc@{domain}", authsource="mailcow")
    mailcow_client.delete_identity_provider()
    assert not mailcow_client.get_identity_provider()
