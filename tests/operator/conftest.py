from tests.operator.fixtures import (  # noqa: F401
    _operator_urls_and_fresh_cache,
    custom_brand,
    ops_client,
    ops_user,
)
