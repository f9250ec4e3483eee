"""Sign-up modes and invitations: who may invite, the email, the single-use 7-day link."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts.models import Invitation
from accounts.signup import invitation_create
from conversations.models import Budget
from teams.models import Membership

User = get_user_model()
PASSWORD = "a-long-pass-phrase-42"


def sign_up(client, username="dana"):
    return client.post(
        reverse("signup"), {"username": username, "password1": PASSWORD, "password2": PASSWORD}
    )


def test_open_sign_up_creates_an_account_under_the_default_budget(client, settings, db):
    settings.CHAT_SIGNUP, settings.CHAT_DEFAULT_USER_BUDGET = "open", "2.50"
    assert sign_up(client).status_code == 302
    dana = User.objects.get(username="dana")
    assert Budget.objects.get(user=dana).monthly_limit == Decimal("2.50")
    assert client.get(reverse("home")).wsgi_request.user == dana


def test_without_a_default_budget_a_new_account_has_none(client, settings, db):
    settings.CHAT_SIGNUP, settings.CHAT_DEFAULT_USER_BUDGET = "open", None
    sign_up(client)
    assert not Budget.objects.exists()


@pytest.mark.parametrize("mode", ["invite", "closed"])
def test_sign_up_page_is_gone_unless_open(client, settings, db, mode):
    settings.CHAT_SIGNUP = mode
    assert client.get(reverse("signup")).status_code == 404
    assert sign_up(client).status_code == 404 and not User.objects.exists()
    assert "Create an account" not in client.get(reverse("login")).content.decode()


def test_sign_up_with_a_password_is_gone_when_passwords_are_off(client, settings, db):
    settings.CHAT_SIGNUP, settings.CHAT_PASSWORD_LOGIN = "open", False
    assert sign_up(client).status_code == 404


def invite(client, **form):
    return client.post(reverse("invite"), {"role": "member", **form})


def link_in(message) -> str:
    return re.search(r"http://testserver(/accounts/invite/[^/\s]+/)", message.body).group(1)


def test_a_team_owner_invites_by_email_and_the_link_lands_the_person_in_the_team(
    client, settings, team, people
):
    settings.CHAT_SIGNUP = "invite"
    client.force_login(people["owner"])
    response = invite(client, email="newcomer@example.com", team=team.pk, role="editor")
    assert response.status_code == 302
    assert [m.to for m in mail.outbox] == [["newcomer@example.com"]]
    assert "Support" in mail.outbox[0].body and "7 days" in mail.outbox[0].body
    link = link_in(mail.outbox[0])
    assert Invitation.objects.get().token_hash not in link  # only the hash is kept
    client.logout()
    page = client.get(link)
    assert page.status_code == 200 and "newcomer@example.com" in page.content.decode()
    form = {"username": "newcomer", "password1": PASSWORD, "password2": PASSWORD}
    response = client.post(link, form)
    assert response.status_code == 302 and response["Location"] == reverse("team_detail", args=[team.pk])
    newcomer = User.objects.get(username="newcomer")
    assert newcomer.email == "newcomer@example.com"
    assert Membership.objects.get(team=team, user=newcomer).role == "editor"
    client.logout()
    again = client.post(link, {**form, "username": "second"})
    assert again.status_code == 404 and "cannot be used" in again.content.decode()
    assert not User.objects.filter(username="second").exists()


def test_an_owner_cannot_invite_to_a_team_they_do_not_own_and_members_cannot_invite(client, team, people):
    other = Membership.objects.create(
        team=team.__class__.objects.create(name="Other"), user=people["outsider"]
    )
    client.force_login(people["owner"])
    assert invite(client, email="x@example.com", team=other.team_id).status_code == 422
    assert invite(client, email="x@example.com").status_code == 422  # a team is required for owners
    client.force_login(people["member"])
    assert client.get(reverse("invite")).status_code == 404
    assert not Invitation.objects.exists() and not mail.outbox


def test_staff_invite_without_a_team_and_see_what_is_pending(client, staff):
    client.force_login(staff)
    assert invite(client, email="solo@example.com").status_code == 302
    assert "solo@example.com" in client.get(reverse("invite")).content.decode()
    assert invite(client, email="not an address").status_code == 422


def test_an_invitation_expires_after_seven_days(client, settings, team, people):
    settings.CHAT_SIGNUP = "invite"
    _, token = invitation_create(
        email="late@example.com", team=team, role="member", invited_by=people["owner"]
    )
    link = reverse("invitation", args=[token])
    with time_machine.travel(timezone.now() + timedelta(days=6, hours=23)):
        assert client.get(link).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(days=7, minutes=1)):
        form = {"username": "late", "password1": PASSWORD, "password2": PASSWORD}
        assert client.post(link, form).status_code == 404
    assert not User.objects.filter(username="late").exists()


def test_a_signed_in_person_joins_with_the_link(client, team, people):
    _, token = invitation_create(email="x@example.com", team=team, role="member", invited_by=people["owner"])
    client.force_login(people["outsider"])
    assert client.post(reverse("invitation", args=[token])).status_code == 302
    assert Membership.objects.filter(team=team, user=people["outsider"]).exists()


def test_with_sign_up_closed_the_link_offers_no_new_account(client, settings, team, people):
    settings.CHAT_SIGNUP = "closed"
    _, token = invitation_create(email="x@example.com", team=team, role="member", invited_by=people["owner"])
    link = reverse("invitation", args=[token])
    assert "Create your account" not in client.get(link).content.decode()
    client.post(link, {"username": "x", "password1": PASSWORD, "password2": PASSWORD})
    assert not User.objects.filter(username="x").exists()


def removed(team, user) -> None:
    Membership.objects.filter(team=team, user=user).delete()


def demoted(team, user) -> None:
    Membership.objects.filter(team=team, user=user).update(role="editor")


def deactivated(team, user) -> None:
    user.is_active = False
    user.save(update_fields=["is_active"])


def deleted(team, user) -> None:
    user.delete()


@pytest.mark.parametrize("change", [removed, demoted, deactivated, deleted])
def test_an_invitation_is_void_once_its_inviter_may_no_longer_invite_with_that_role(
    client, settings, team, people, change
):
    settings.CHAT_SIGNUP = "invite"
    bob = people["editor"]
    Membership.objects.filter(team=team, user=bob).update(role="owner")  # bob, an owner, invites
    _, token = invitation_create(email="newcomer@example.com", team=team, role="owner", invited_by=bob)
    change(team, bob)  # then the team (or an administrator) takes that away from him
    link = reverse("invitation", args=[token])
    reason = (
        "This invitation is no longer valid: the person who sent it can no longer invite to Support as owner."
    )
    page = client.get(link)
    assert page.status_code == 403 and reason in page.content.decode()
    assert "Create your account" not in page.content.decode()
    form = {"username": "newcomer", "password1": PASSWORD, "password2": PASSWORD}
    response = client.post(link, form)
    assert response.status_code == 403 and reason in response.content.decode()
    assert not User.objects.filter(username="newcomer").exists()
    client.force_login(people["outsider"])  # an existing account may not join with it either
    response = client.post(link)
    assert response.status_code == 403 and reason in response.content.decode()
    assert not Membership.objects.filter(team=team, user=people["outsider"]).exists()
    assert Invitation.objects.get().accepted_at is None


def test_a_staff_invitation_without_a_team_is_void_once_the_inviter_is_no_longer_staff(
    client, settings, staff
):
    settings.CHAT_SIGNUP = "invite"
    _, token = invitation_create(email="solo@example.com", team=None, role="member", invited_by=staff)
    staff.is_staff = False
    staff.save(update_fields=["is_staff"])
    form = {"username": "solo", "password1": PASSWORD, "password2": PASSWORD}
    response = client.post(reverse("invitation", args=[token]), form)
    assert response.status_code == 403
    assert "the person who sent it can no longer invite people here" in response.content.decode()
    assert not User.objects.filter(username="solo").exists()


def test_an_invitation_stays_good_while_its_inviter_still_may_send_it(client, team, people, staff):
    bob = people["editor"]
    Membership.objects.filter(team=team, user=bob).update(role="owner")
    _, by_bob = invitation_create(email="x@example.com", team=team, role="owner", invited_by=bob)
    Membership.objects.filter(team=team, user=people["owner"]).update(role="member")  # someone else
    _, by_staff = invitation_create(email="y@example.com", team=team, role="editor", invited_by=staff)
    client.force_login(people["outsider"])
    assert client.post(reverse("invitation", args=[by_bob])).status_code == 302
    assert Membership.objects.get(team=team, user=people["outsider"]).role == "owner"
    client.force_login(people["member"])
    Membership.objects.filter(team=team, user=people["member"]).delete()
    assert client.post(reverse("invitation", args=[by_staff])).status_code == 302  # staff: any team
    assert Membership.objects.get(team=team, user=people["member"]).role == "editor"
