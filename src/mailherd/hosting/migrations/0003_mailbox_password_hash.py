"""Mailbox passwords become a {BLF-CRYPT} hash on the mailbox; the outbox's encrypted password goes.

Rows still waiting with an encrypted password: the password is hashed onto its
mailbox (the newest row wins, as it would have on the server) and the row is
marked to send the hash; then the encrypted column is dropped.
"""

from django.db import migrations, models


def hash_pending_secrets(apps, schema_editor):
    from mailherd.core.crypto import decrypt
    from mailherd.hosting.passwords import hash_password

    ProvisioningOp = apps.get_model("hosting", "ProvisioningOp")
    Mailbox = apps.get_model("hosting", "Mailbox")
    with schema_editor.connection.cursor() as cursor:  # raw: a value the key no longer opens is skipped
        cursor.execute("SELECT id, secret FROM hosting_provisioningop WHERE secret <> '' ORDER BY id")
        rows = cursor.fetchall()
    for op_id, token in rows:
        try:
            plaintext = decrypt(token)
        except ValueError:
            plaintext = ""
        op = ProvisioningOp.objects.defer("secret").get(pk=op_id)
        if op.status != "done" and plaintext and op.object_key.startswith("mailbox:"):
            address = op.object_key.split(":", 1)[1]
            Mailbox.objects.filter(address=address).update(password_hash=hash_password(plaintext))
            op.payload = {**op.payload, "password_changed": True}
            op.save(update_fields=["payload"])
    ProvisioningOp.objects.exclude(secret="").update(secret="")


class Migration(migrations.Migration):
    dependencies = [
        ("hosting", "0002_mailbox_sso_mailbox_user"),
    ]

    operations = [
        migrations.AddField(
            model_name="mailbox",
            name="password_hash",
            field=models.CharField(blank=True, max_length=512),
        ),
        migrations.RunPython(hash_pending_secrets, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name="provisioningop",
            name="secret",
        ),
    ]
