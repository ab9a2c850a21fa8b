def branding(request):
    """`branding` (the operator's white-label settings, cached) and `product_name` for every page."""
    from mailherd.operator.selectors import branding_get

    current = branding_get()
    return {"branding": current, "product_name": current.product_name}
