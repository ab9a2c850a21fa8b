"""Plan feature flags: each one offered has a check in the code behind it; the others are hidden."""

import re
from pathlib import Path

import pytest

import mailherd
from mailherd.plans.models import UNBUILT_FEATURES, Feature, Plan, offered_feature_choices

pytestmark = pytest.mark.django_db

SOURCE = Path(mailherd.__file__).parent


def _checks_in_code(feature: Feature) -> list[str]:
    """Places that check the flag: Feature.X, or its value handed to has_feature/feature_* ."""
    pattern = re.compile(
        rf"Feature\.{feature.name}\b|(has_feature|feature_enabled|feature_require|feature_view)"
        rf"\(\s*[\"']{feature.value}[\"']|feature\s*=\s*[\"']{feature.value}[\"']"
    )
    found = []
    for path in SOURCE.rglob("*.py"):
        if "migrations" in path.parts or path.name == "models.py" and path.parent.name == "plans":
            continue
        if pattern.search(path.read_text()):
            found.append(str(path.relative_to(SOURCE)))
    return found


@pytest.mark.parametrize("feature", list(Feature), ids=lambda f: f.value)
def test_a_flag_is_offered_exactly_when_code_checks_it(feature):
    checked = _checks_in_code(feature)
    if feature.value in UNBUILT_FEATURES:
        assert checked == [], f"{feature.value} is checked in {checked}: offer it"
    else:
        assert checked, f"{feature.value} is offered but nothing checks it"


def test_unbuilt_flags_are_not_in_the_plan_form_nor_on_the_landing_page(ops_client, tenants):
    assert UNBUILT_FEATURES  # priority support has nothing behind it yet
    plan = Plan.objects.get(slug="enterprise")
    plan.features = [value for value, _ in Feature.choices]
    plan.save()
    form = ops_client.get(f"/operator/plans/plan/{plan.pk}/change/").content.decode()
    offered = set(re.findall(r'name="features" value="([a-z_]+)"', form))
    assert offered == {value for value, _ in offered_feature_choices()}
    landing = ops_client.get("/").content.decode()
    for value in UNBUILT_FEATURES:
        assert value not in offered
        assert Feature(value).label not in landing
    assert "Automatic DNS set-up" in landing  # built flags are listed with the plan
