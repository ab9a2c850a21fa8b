from django.db import migrations, models


def keep_published_records(apps, schema_editor):
    # Domains added before branding chose the word were told `_mailherd-verify`: they keep it.
    apps.get_model("hosting", "Domain").objects.update(verification_word="mailherd")


class Migration(migrations.Migration):
    dependencies = [
        ("hosting", "0003_mailbox_password_hash"),
    ]

    operations = [
        migrations.AddField(
            model_name="domain",
            name="verification_word",
            field=models.CharField(blank=True, max_length=30),
        ),
        migrations.RunPython(keep_published_records, migrations.RunPython.noop),
    ]
