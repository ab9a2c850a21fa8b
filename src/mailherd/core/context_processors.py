from django.conf import settings


def branding(request):
    return {"product_name": settings.MAILHERD_PRODUCT_NAME}
