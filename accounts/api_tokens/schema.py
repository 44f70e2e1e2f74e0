"""OpenAPI description of API tokens (drf-spectacular extension), beside the JWT scheme."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.api_tokens.authentication.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "ocrs_ API token",
            "description": "A scoped, expiring API token for machines (`ocrs_…`); each "
            "endpoint needs one scope (audit:read, users:read, tasks:read, tasks:write, "
            "tasks:cleanup), and the token can never do more than its owner.",
        }
