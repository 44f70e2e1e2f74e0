"""The audit events the load run expects requests to record."""

# Audit events as "type outcome (method)": login and logout carry their surface.
LOGIN_SESSION = "auth_login success (session)"
LOGIN_JWT = "auth_login success (jwt)"
LOGIN_FAILED_SESSION = "auth_login failure (session)"
LOGIN_FAILED_JWT = "auth_login failure (jwt)"
LOGOUT_SESSION = "auth_logout success (session)"
REFRESH_OK = "auth_token_refresh success"
REFRESH_FAILED = "auth_token_refresh failure"
UPLOAD_OK = "file_upload success"
UPLOAD_FAILED = "file_upload failure"
TASK_CREATE = "task_create success"
TASK_DELETE = "task_delete success"
# The setup creates the load accounts in a shell: audited, with no request id.
USER_CREATE = "user_create success"
LABELS = (
    LOGIN_SESSION,
    LOGIN_JWT,
    LOGIN_FAILED_SESSION,
    LOGIN_FAILED_JWT,
    LOGOUT_SESSION,
    REFRESH_OK,
    REFRESH_FAILED,
    UPLOAD_OK,
    UPLOAD_FAILED,
    TASK_CREATE,
    TASK_DELETE,
    USER_CREATE,
)
WITH_METHOD = {"auth_login", "auth_logout"}
