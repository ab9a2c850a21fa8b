"""Portal actions for alias domains and a domain's allow/block lists (thin, over the services)."""

from django.contrib import messages
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from mailherd.hosting.views import _can_change, _domain_or_404, hosting_view
from mailherd.portal.base import run_service


def _back(request, domain):
    return redirect("hosting:domain_detail", org_slug=request.organization.slug, name=domain.name)


@require_POST
@hosting_view
def alias_domain_add(request, name):
    from mailherd.hosting.services.aliasdomains import alias_domain_add as add

    domain = _domain_or_404(request, name)
    if not _can_change(request):
        return _back(request, domain)
    alias = run_service(
        request,
        None,
        lambda: add(
            actor=request.actor,
            organization=request.organization,
            name=request.POST.get("alias_name", ""),
            target=domain.name,
        ),
    )
    if alias is None:
        return _back(request, domain)
    messages.success(
        request,
        f"{alias.unicode_name} added. Publish its ownership record below and verify it; then every "
        f"address of {domain.unicode_name} also receives there.",
    )
    return _back(request, alias)


@require_POST
@hosting_view
def domain_policy_add(request, name):
    from mailherd.hosting.services.policies import domain_policy_add as add

    domain = _domain_or_404(request, name)
    if _can_change(request):
        entry = run_service(
            request,
            None,
            lambda: add(
                actor=request.actor,
                organization=request.organization,
                name=domain.name,
                list_name=request.POST.get("list", ""),
                sender=request.POST.get("sender", ""),
            ),
        )
        if entry:
            word = "always accepted" if entry.list == "allow" else "always refused"
            messages.success(request, f"Mail from {entry.sender} is now {word} for {domain.unicode_name}.")
    return _back(request, domain)


@require_POST
@hosting_view
def domain_policy_delete(request, name, entry_id):
    from mailherd.hosting.services.policies import domain_policy_delete as delete

    domain = _domain_or_404(request, name)
    if _can_change(request) and run_service(
        request,
        None,
        lambda: delete(
            actor=request.actor, organization=request.organization, name=domain.name, entry_id=entry_id
        )
        or True,
    ):
        messages.success(request, "Removed from the list.")
    return _back(request, domain)
