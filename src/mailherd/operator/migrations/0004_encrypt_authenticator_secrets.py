"""TOTP secrets and recovery-code seeds were stored in plaintext: encrypt them in place."""

from django.db import migrations


def _encrypted(value):
    from mailherd.core.crypto import decrypt, encrypt

    try:
        decrypt(value)
        return value  # already encrypted
    except ValueError:
        return encrypt(value)


def encrypt_secrets(apps, schema_editor):
    Authenticator = apps.get_model("mfa", "Authenticator")
    for authenticator in Authenticator.objects.filter(type__in=["totp", "recovery_codes"]):
        data = dict(authenticator.data or {})
        for key in ("secret", "seed"):
            if isinstance(data.get(key), str):
                data[key] = _encrypted(data[key])
        if isinstance(data.get("migrated_codes"), list):
            data["migrated_codes"] = [_encrypted(code) for code in data["migrated_codes"]]
        Authenticator.objects.filter(pk=authenticator.pk).update(data=data)


class Migration(migrations.Migration):
    dependencies = [
        ("operator", "0003_operatorenrolment"),
        ("mfa", "0003_authenticator_type_uniq"),
    ]

    operations = [migrations.RunPython(encrypt_secrets, migrations.RunPython.noop)]
