"""Django admin for API tokens: issue one (its text shown once), list them, revoke them.

Issuing needs accounts.add_apitoken, revoking accounts.change_apitoken, listing
accounts.view_apitoken (or change); is_staff alone opens none of it. Tokens are never
deleted here: a revoked row is the record of what the credential was.
"""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..models import ApiToken
from .scopes import SCOPE_CHOICES
from .services import ApiTokenError, api_token_create, api_token_revoke


class ApiTokenCreateForm(forms.Form):
    username = forms.CharField(label=_("Owner's username"), max_length=150)
    name = forms.CharField(
        label=_("Name"), max_length=100, help_text=_("What uses it, e.g. siem-poller.")
    )
    scopes = forms.MultipleChoiceField(
        label=_("Scopes"), choices=SCOPE_CHOICES, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Built here, not at import: the bound comes from settings, which tests change.
        maximum = settings.API_TOKEN_MAX_DAYS
        self.fields["days"] = forms.IntegerField(
            label=_("Valid for (days)"),
            min_value=1,
            max_value=maximum,
            help_text=_("At most %(days)d.") % {"days": maximum},
        )

    def clean_username(self):
        username = self.cleaned_data["username"]
        owner = get_user_model().objects.filter(username=username).first()
        if owner is None:
            raise forms.ValidationError(_("No such user."))
        self.cleaned_data["owner"] = owner
        return username


@admin.display(description=_("status"))
def token_status(token: ApiToken) -> str:
    if token.revoked_at is not None:
        return str(_("revoked"))
    if token.expires_at <= timezone.now():
        return str(_("expired"))
    return str(_("live"))


class ApiTokenAdmin(admin.ModelAdmin):
    list_display = (
        "lookup_id",
        "name",
        "user",
        "scopes",
        token_status,
        "expires_at",
        "last_used_at",
        "last_used_ip",
    )
    list_select_related = ("user",)
    search_fields = ("lookup_id", "name", "user__username")
    actions = ["revoke"]
    # The hash is not a secret one can use, but there is nothing to read in it either.
    exclude = ("secret_hash",)

    def get_readonly_fields(self, request, obj=None):
        # Nothing about an issued token changes but its end: revoking is the action.
        return [field.name for field in ApiToken._meta.fields if field.name != "secret_hash"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_actions(self, request, action_location=admin.ActionLocation.CHANGE_LIST):
        actions = super().get_actions(request, action_location=action_location)
        if not request.user.has_perm("accounts.change_apitoken"):
            actions.pop("revoke", None)
        return actions

    @admin.action(description=_("Revoke the selected API tokens"))
    def revoke(self, request, queryset):
        if not request.user.has_perm("accounts.change_apitoken"):
            raise PermissionDenied
        revoked = sum(
            api_token_revoke(token=token, actor=request.user, via="admin")
            for token in queryset.select_related("user")
        )
        self.message_user(
            request,
            ngettext("Revoked %(count)d token.", "Revoked %(count)d tokens.", revoked)
            % {"count": revoked},
            messages.SUCCESS,
        )

    def add_view(self, request, form_url="", extra_context=None):
        """Issue a token through the service; the page after shows its text, once."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ApiTokenCreateForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                issued = api_token_create(
                    user=data["owner"],
                    name=data["name"],
                    scopes=data["scopes"],
                    days=data["days"],
                    actor=request.user,
                    via="admin",
                )
            except ApiTokenError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                context = {**self.page_context(request), "title": _("API token issued")}
                response = TemplateResponse(
                    request,
                    "admin/accounts/apitoken/issued.html",
                    {**context, "token": issued.token, "text": issued.text},
                )
                # Shown once: no browser or proxy cache may keep a copy of this page.
                response["Cache-Control"] = "no-store"
                return response
        context = {**self.page_context(request), "title": _("Issue an API token"), "form": form}
        return TemplateResponse(request, "admin/accounts/apitoken/issue.html", context)

    def page_context(self, request) -> dict:
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "has_view_permission": self.has_view_permission(request),
        }
