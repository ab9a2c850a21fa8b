from tests.hosting.conftest import mail_server, sim  # noqa: F401  (fixtures)
from tests.operator.fixtures import (  # noqa: F401
    _operator_urls_and_fresh_cache,
    custom_brand,
    ops_client,
    ops_user,
)
