"""The admin lists refresh tokens without showing them: a view permission is not a login."""

from django.contrib.auth.models import Permission
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from accounts.tokens import new_refresh_token


def test_viewing_outstanding_tokens_does_not_hand_out_a_superusers_refresh_token(
    make_user, client_for
):
    root = make_user(username="root", superuser=True)
    refresh = str(new_refresh_token(root))
    outstanding = OutstandingToken.objects.get(user=root)
    viewer = make_user(username="viewer", staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_outstandingtoken"))
    client = client_for(viewer)
    signature = refresh.rsplit(".", 1)[1]
    for path in (
        "/admin/token_blacklist/outstandingtoken/",
        f"/admin/token_blacklist/outstandingtoken/{outstanding.pk}/change/",
    ):
        response = client.get(path)
        assert response.status_code == 200
        # The token itself would let the viewer refresh into root's API access.
        assert signature not in response.content.decode()
    # What the page is for is still there: whose token, which jti, until when.
    assert outstanding.jti in response.content.decode()
