from django.urls import path

from mailherd.billing import views

app_name = "billing"

urlpatterns = [
    path("billing/stripe/webhook/", views.stripe_webhook, name="stripe_webhook"),
    path("start/<slug:plan_slug>/", views.plan_start, name="plan_start"),
    path("o/<slug:org_slug>/billing/", views.overview, name="overview"),
    path("o/<slug:org_slug>/billing/plans/", views.plans, name="plans"),
    path(
        "o/<slug:org_slug>/billing/plans/<slug:plan_slug>/", views.plan_choose, name="plan_choose"
    ),
    path("o/<slug:org_slug>/billing/card/", views.card, name="card"),
    path("o/<slug:org_slug>/billing/invoices/", views.invoices, name="invoices"),
    path("o/<slug:org_slug>/billing/cancel/", views.cancel, name="cancel"),
    path("o/<slug:org_slug>/billing/resume/", views.resume, name="resume"),
    path("o/<slug:org_slug>/billing/reactivate/", views.reactivate, name="reactivate"),
    path("o/<slug:org_slug>/billing/pay/", views.pay_now, name="pay_now"),
]
