"""/operator/: the back office (see mailherd.operator.sites)."""

from django.contrib import admin
from django.urls import path

from mailherd.operator.sites import operator_site

operator_site.adopt(admin.site)

urlpatterns = [path("", operator_site.urls)]
