from tests.hosting.conftest import mail_server, sim  # noqa: F401  (fixtures)
