from mailherd.api.models import ApiToken


def api_token_list(*, organization):
    return ApiToken.objects.filter(organization=organization).select_related("created_by")
