import pytest
from django.urls import reverse
from cases.models import SupportRule
from accounts.roles import Role
from tests.factories import UserFactory, PASSWORD


def test_probe(client_for, manager, applicant, programme, case_in):
    c = client_for(manager)
    for body in ({"rules": [{"support_type": "patent", "percent": 50}]}, {"rules": [{"percent": 50, "cap_amount": 5}]}):
        try:
            r = c.patch("/api/v1/programmes/shtt-test/", body, format="json")
            print("resp", r.status_code, r.content[:500])
        except Exception as e:
            print("EXC", type(e), e)
    r = client_for(applicant).patch("/api/v1/programmes/shtt-test/rules/trademark/", {"percent": 0}, format="json")
    print("applicant bad", r.status_code, r.content[:500])
    r = c.patch("/api/v1/programmes/shtt-test/rules/trademark/", {"percent": 0}, format="json")
    print("pct0", r.status_code, r.content[:500])
    r = client_for(manager, "vi").patch("/api/v1/programmes/shtt-test/rules/trademark/", {"percent": 0, "province_codes": ["99"]}, format="json")
    print("vi", r.status_code, r.content.decode()[:800])
    r = c.patch("/api/v1/programmes/shtt-test/rules/trademark/", {"legal_forms": ["enterprise", "enterprise"], "province_codes": ["1"]}, format="json")
    print("dup", r.status_code, r.content.decode()[:800])
    r = c.get("/api/v1/programmes/shtt-test/rules/trademark/")
    print("get", r.status_code, r.content.decode()[:800])


def test_probe_admin(client, programme):
    u = UserFactory(username="boss", roles=[Role.MANAGER]); u.is_staff = True; u.save()
    assert client.login(username="boss", password=PASSWORD)
    rule = SupportRule.objects.get(programme=programme, support_type="trademark")
    url = reverse("admin:cases_supportrule_change", args=[rule.pk])
    r = client.get(url)
    print(r.status_code)
    form = r.context["adminform"].form
    print(list(form.fields), {k: form[k].value() for k in form.fields})
    data = {"percent": "60", "cap_amount": "30000000", "enterprise_year_cap": "", "max_items_per_enterprise": "", "legal_forms": "5", "size_classes": "[]", "province_codes": "[]", "payment_trigger": "valid_application", "legal_basis": ""}
    try:
        r = client.post(url, data)
        print("int legal forms", r.status_code)
    except Exception as e:
        print("EXC", type(e), e)
