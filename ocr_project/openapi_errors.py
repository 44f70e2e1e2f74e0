"""The JSON bodies of API errors as OpenAPI components: plain data, read by settings."""

ERROR_REF = {"$ref": "#/components/schemas/Error"}
VALIDATION_ERROR_REF = {"$ref": "#/components/schemas/ValidationError"}

ERROR_COMPONENTS = {
    "schemas": {
        "Error": {
            "type": "object",
            "description": "Why the request was refused.",
            "properties": {
                "detail": {"type": "string", "description": "What went wrong, in English."},
                "code": {"type": "string", "description": "A stable machine-readable code."},
            },
            "required": ["detail"],
        },
        "ValidationError": {
            "type": "object",
            "description": (
                "Each invalid field (or query parameter) with its messages; "
                "`detail` or `non_field_errors` for the request as a whole."
            ),
            "additionalProperties": {
                "oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}]
            },
        },
    }
}

ERROR_DESCRIPTIONS = {
    "400": "Invalid input: the body or a query parameter, field by field.",
    "401": "Not authenticated: no, an expired or a revoked token or session.",
    "403": "Authenticated but not allowed (a staff permission, or a session's CSRF check).",
    "404": "No such object, or not yours; also an invalid page or cursor.",
    "413": "The request body is larger than the limit.",
    "415": "The body is not in the operation's one request media type.",
    "429": "Too many requests, or a locked-out login; Retry-After says how many seconds.",
}
