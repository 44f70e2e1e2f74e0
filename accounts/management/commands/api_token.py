"""Issue, list and revoke API tokens, and create service accounts, from a shell."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts.api_tokens.scopes import SCOPES
from accounts.api_tokens.selectors import api_tokens_of
from accounts.api_tokens.services import (
    ApiTokenError,
    api_token_create,
    api_token_revoke,
    service_account_create,
)
from accounts.models import ApiToken


class Command(BaseCommand):
    help = (
        "Manage API tokens: `create --user U --scope S [--scope S…] --days N --name NAME` "
        "prints a token once; `list [--user U]`; `revoke ID`; "
        "`service-account NAME` creates a user that can only use tokens."
    )

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="Issue a token and print it once.")
        create.add_argument("--user", required=True, help="The owner's username.")
        create.add_argument(
            "--scope",
            action="append",
            required=True,
            choices=list(SCOPES),
            help="A scope; repeat for several.",
        )
        create.add_argument("--days", type=int, required=True, help="Lifetime in days.")
        create.add_argument("--name", required=True, help="What uses it, e.g. siem.")
        listing = actions.add_parser("list", help="List tokens (never their text).")
        listing.add_argument("--user", help="Only this owner's tokens.")
        revoke = actions.add_parser("revoke", help="Revoke a token by its id.")
        revoke.add_argument("id", help="The token's id (the 10 characters after ocrs_).")
        account = actions.add_parser("service-account", help="Create a service account.")
        account.add_argument("username")
        account.add_argument("--description", default="")

    def handle(self, *args, action: str, **options):
        try:
            getattr(self, f"handle_{action.replace('-', '_')}")(**options)
        except ApiTokenError as error:
            raise CommandError(f"{error.field}: {error.message}") from None

    def owner(self, username: str):
        owner = get_user_model().objects.filter(username=username).first()
        if owner is None:
            raise CommandError(f"user: no user named {username!r}.")
        return owner

    def handle_create(self, *, user: str, scope: list[str], days: int, name: str, **options):
        issued = api_token_create(
            user=self.owner(user), name=name, scopes=scope, days=days, actor=None, via="command"
        )
        token = issued.token
        # The text goes to stdout alone, so `TOKEN=$(manage.py api_token create …)` works;
        # what it is goes to stderr. It is printed once: only its hash is stored.
        self.stderr.write(
            f"Issued {token.lookup_id} ({token.name}) to {token.user.get_username()}, "
            f"scopes {', '.join(token.scopes)}, expires {token.expires_at:%Y-%m-%d %H:%M UTC}. "
            "Shown only this once:"
        )
        self.stdout.write(issued.text)

    def handle_list(self, *, user: str | None, **options):
        tokens = (
            api_tokens_of(self.owner(user))
            if user
            else ApiToken.objects.select_related("user").order_by("-created_at", "-pk")
        )
        for token in tokens:
            state = "revoked" if token.revoked_at else "live"
            used = (
                f"{token.last_used_at:%Y-%m-%d %H:%M} from {token.last_used_ip}"
                if token.last_used_at
                else "never used"
            )
            self.stdout.write(
                f"{token.lookup_id}\t{token.user.get_username()}\t{token.name}\t"
                f"{','.join(token.scopes)}\t{token.expires_at:%Y-%m-%d}\t{state}\t{used}"
            )

    def handle_revoke(self, *, id: str, **options):
        token = ApiToken.objects.select_related("user").filter(lookup_id=id).first()
        if token is None:
            raise CommandError(f"id: no API token {id!r}.")
        if api_token_revoke(token=token, actor=None, via="command"):
            self.stdout.write(f"Revoked {token.lookup_id}.")
        else:
            self.stdout.write(f"{token.lookup_id} was already revoked.")

    def handle_service_account(self, *, username: str, description: str, **options):
        account = service_account_create(username=username, description=description)
        self.stdout.write(
            f"Created service account {account.get_username()}: no password login; give it "
            "permissions (a group in the admin), then issue tokens with `api_token create`."
        )
