"""List filters for the back office."""

from django.contrib import admin


def titled(title: str):
    """A field's usual list filter under another title ("By subscription status", not "By status").

    Use as `list_filter = [("billing__status", titled("subscription status"))]`.
    """

    class TitledFilter(admin.FieldListFilter):
        def __new__(cls, *args, **kwargs):
            instance = admin.FieldListFilter.create(*args, **kwargs)
            instance.title = title
            return instance

    return TitledFilter
