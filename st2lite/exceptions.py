"""The st2lite exception tree.

Every error st2lite raises on purpose derives from :class:`St2liteError`, and
its message tells the user what went wrong *and* what to do about it::

    St2liteError
    ├── ConfigError                 a setting is missing or invalid
    ├── ContentError                a pack, rule, action or trigger definition is wrong
    │   ├── PackLoadError           a file cannot be read, parsed or validated
    │   ├── UnknownRefError         a reference names nothing registered
    │   ├── RuleNotFoundError       no rule has that ref (the rules API)
    │   ├── RuleConflictError       a rule with that ref exists already (the rules API)
    │   └── RuleFileOwnedError      a pack file defines the rule: the API may only enable or disable it
    │   ├── ParameterError          action parameters are invalid or cannot be rendered
    │   └── TimerSpecError          a timer trigger's parameters are invalid (cron, interval, zone, date)
    ├── MatchError                  criteria cannot be evaluated
    │   └── UnknownOperatorError    a criteria ``type`` names no operator
    ├── TemplateError               a Jinja template failed to render
    ├── TriggerError                a trigger instance is invalid (payload, size, type)
    │   └── TriggerInstanceNotFoundError  no processed trigger instance has that id
    ├── DatastoreError              a datastore request is invalid (name, scope, value, ttl)
    │   ├── KeyValueNotFoundError   no datastore value has that name in that scope
    │   └── EncryptionKeyError      the datastore key file is missing, invalid or not the one used
    ├── ExecutionError              an execution cannot be created, found or moved
    │   ├── ExecutionNotFoundError
    │   ├── InvalidTransitionError  a status change the lifecycle does not allow
    │   ├── RunnerError             a runner could not start the action
    │   ├── InquiryError            an inquiry cannot be answered (bad response, already answered)
    │   │   ├── InquiryNotFoundError
    │   │   └── ResponderNotAllowedError  the user is not among the inquiry's ``users``
    │   └── CallbackTokenError      a callback or heartbeat came with a missing or wrong token
    ├── WebhookError                a declared webhook refused a request (body against its schema)
    │   ├── WebhookSignatureError   its signature header is missing, wrong or too old
    │   └── WebhookSecretMissingError  its secret is not in the datastore (server side)
    ├── SensorError                 a sensor cannot be loaded or started (entry point, class, setup)
    ├── AuthError                   a caller or credential cannot be accepted
    │   ├── AuthenticationError     no credentials, or wrong, expired or revoked ones (HTTP 401)
    │   ├── PermissionDeniedError   the caller's role lacks a permission (HTTP 403)
    │   ├── ApiKeyNotFoundError     no API key has that id or key
    │   └── UsersFileError          the users file cannot be read or written, or names an unknown user
    ├── StreamError                 an event stream or output request is invalid (filter, output type, event id)
    │   └── StreamBusyError         this API process already serves as many streams as it may (HTTP 503)
    └── StoreUnavailableError       Redis cannot be reached

Foreign exceptions (redis, yaml, pydantic, jinja2) are translated into these at
the module that talks to the foreign library, keeping the cause with
``raise ... from exc``.
"""

from __future__ import annotations

__all__ = [
    "ApiKeyNotFoundError",
    "AuthError",
    "AuthenticationError",
    "CallbackTokenError",
    "ConfigError",
    "ContentError",
    "DatastoreError",
    "EncryptionKeyError",
    "ExecutionError",
    "ExecutionNotFoundError",
    "InquiryError",
    "InquiryNotFoundError",
    "InvalidTransitionError",
    "KeyValueNotFoundError",
    "MatchError",
    "PackLoadError",
    "ParameterError",
    "PermissionDeniedError",
    "ResponderNotAllowedError",
    "RuleConflictError",
    "RuleFileOwnedError",
    "RuleNotFoundError",
    "RunnerError",
    "SensorError",
    "St2liteError",
    "StoreUnavailableError",
    "StreamBusyError",
    "StreamError",
    "TemplateError",
    "TimerSpecError",
    "TriggerError",
    "TriggerInstanceNotFoundError",
    "UnknownOperatorError",
    "UnknownRefError",
    "UsersFileError",
    "WebhookError",
    "WebhookSecretMissingError",
    "WebhookSignatureError",
]


class St2liteError(Exception):
    """Root of every error st2lite raises on purpose."""


class ConfigError(St2liteError):
    """Raised when a setting is missing or invalid; the message names the setting."""


class ContentError(St2liteError):
    """Raised when content (packs, rules, actions, triggers) is invalid."""


class PackLoadError(ContentError):
    """Raised when a content file cannot be read, parsed or validated.

    ``path`` is the file, ``line`` the 1-based line when known and ``field`` the
    dotted path of the offending field when known.
    """

    def __init__(self, message: str, *, path: str = "", line: int | None = None, field: str = "") -> None:
        self.path = path
        self.line = line
        self.field = field
        self.reason = message
        where = path
        if path and line is not None:
            where = f"{path}:{line}"
        prefix = f"{where}: " if where else ""
        if field:
            prefix += f"field '{field}': "
        super().__init__(prefix + message)


class UnknownRefError(ContentError):
    """Raised when a reference (``pack.name``) names nothing registered."""

    def __init__(self, kind: str, ref: str, hint: str = "") -> None:
        self.kind = kind
        self.ref = ref
        message = f"{kind} '{ref}' is not registered"
        message += f"; {hint}" if hint else "; register the pack that defines it with 'st2lite pack register'"
        super().__init__(message)


class RuleNotFoundError(ContentError):
    """Raised when the rules API is asked for a rule no pack file or API request defined."""

    def __init__(self, ref: str) -> None:
        self.ref = ref
        super().__init__(f'Rule "{ref}" is not found; list the rules with GET /api/v1/rules')


class RuleConflictError(ContentError):
    """Raised when a rule is created with the ref of a rule that exists; ``conflict_id`` is that rule's id."""

    def __init__(self, ref: str, conflict_id: str) -> None:
        self.ref = ref
        self.conflict_id = conflict_id
        super().__init__(f'Rule "{ref}" already exists; change it with PUT /api/v1/rules/{ref} or delete it first')


class RuleFileOwnedError(ContentError):
    """Raised when the rules API is asked to change (beyond ``enabled``) or delete a rule a pack file defines."""


class ParameterError(ContentError):
    """Raised when action parameters are invalid, unknown, of the wrong type or cannot be rendered."""


class MatchError(St2liteError):
    """Raised when a rule's criteria cannot be evaluated against a payload."""


class UnknownOperatorError(MatchError):
    """Raised when a criterion's ``type`` names no known operator."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        super().__init__(f"unknown criteria operator '{name}'; use one of: {', '.join(sorted(known))}")


class TemplateError(St2liteError):
    """Raised when a Jinja template fails to compile or render."""


class TriggerError(St2liteError):
    """Raised when a trigger instance is invalid: unknown type, bad payload or too large."""


class DatastoreError(St2liteError):
    """Raised when a datastore request is invalid: bad name, scope, user, value or ttl."""


class TriggerInstanceNotFoundError(TriggerError):
    """Raised when no processed trigger instance has the given id."""

    def __init__(self, instance_id: str) -> None:
        self.instance_id = instance_id
        super().__init__(
            f"trigger instance '{instance_id}' not found; it may not be processed yet or it expired "
            "(see 'execution_ttl' in docs/configuration.md); list them with 'st2lite trigger-instance list'"
        )


class KeyValueNotFoundError(DatastoreError):
    """Raised when no datastore value has the given name in the given scope (it never existed or it expired)."""

    def __init__(self, name: str, scope: str, user: str | None = None) -> None:
        self.name = name
        self.scope = scope
        self.user = user
        owner = f" of user '{user}'" if user else ""
        # The first sentence is StackStorm's own message, which st2 clients show.
        super().__init__(
            f'Key Value Pair "{name}" is not found ({scope}{owner}); '
            "check the name and scope, or list the stored names with 'st2lite key list'"
        )


class EncryptionKeyError(DatastoreError):
    """Raised when the datastore key file is missing, unreadable, malformed or not the key a value was made with."""


class ExecutionError(St2liteError):
    """Raised when an execution cannot be created, found or changed."""


class ExecutionNotFoundError(ExecutionError):
    """Raised when no execution has the given id (it never existed or its retention expired)."""

    def __init__(self, execution_id: str) -> None:
        self.execution_id = execution_id
        super().__init__(
            f"execution '{execution_id}' not found; it may have expired (see 'execution_ttl' in docs/configuration.md)"
        )


class InvalidTransitionError(ExecutionError):
    """Raised when a status change is not allowed by the execution lifecycle."""

    def __init__(self, execution_id: str, current: str, target: str) -> None:
        self.execution_id = execution_id
        self.current = current
        self.target = target
        super().__init__(f"execution '{execution_id}' cannot go from '{current}' to '{target}'")


class NotCancelableError(ExecutionError):
    """Raised when an execution cannot be canceled (it ended already), or paused/resumed (wrong status or runner)."""


class RunnerError(ExecutionError):
    """Raised when a runner cannot start an action (missing entry point, unknown runner type)."""


class InquiryError(ExecutionError):
    """Raised when an inquiry cannot be answered: the response does not fit its schema, or it is over."""


class InquiryNotFoundError(InquiryError):
    """Raised when no pending or past inquiry has the given id."""

    def __init__(self, inquiry_id: str) -> None:
        self.inquiry_id = inquiry_id
        super().__init__(
            f"inquiry '{inquiry_id}' not found; list the waiting ones with 'st2lite inquiry list' "
            "(GET /api/v1/inquiries)"
        )


class ResponderNotAllowedError(InquiryError):
    """Raised when the user answering an inquiry is not one of its ``users``."""


class CallbackTokenError(ExecutionError):
    """Raised when a callback or heartbeat for a waiting task carries a missing or wrong token."""


class StoreUnavailableError(St2liteError):
    """Raised when Redis cannot be reached or answers with an error."""


class StreamError(St2liteError):
    """A request for the event stream or an execution's output is invalid (unknown event, bad output type)."""


class StreamBusyError(StreamError):
    """This API process already serves ``stream_max_clients`` streams; the client should retry later."""


class WebhookError(St2liteError):
    """A request to a declared webhook was refused (bad body for its schema); nothing was dispatched."""


class WebhookSignatureError(WebhookError):
    """A declared webhook's signature header is missing, malformed, wrong or too old."""


class WebhookSecretMissingError(WebhookError):
    """The datastore value holding a webhook's signing secret is not set (a server-side problem)."""

    def __init__(self, webhook: str, key: str) -> None:
        self.key = key
        super().__init__(
            f"webhook '{webhook}' is signed but its secret is not in the datastore; "
            f"set it with 'st2lite key set {key} <secret> --encrypt' (system scope)"
        )


class TimerSpecError(ContentError):
    """A timer trigger's parameters are invalid (bad cron field, interval, time zone or date).

    ``parameter`` names the offending trigger parameter (empty when the problem is the set of parameters).
    """

    def __init__(self, message: str, parameter: str = "") -> None:
        self.parameter = parameter
        self.reason = message
        super().__init__(f"parameter '{parameter}': {message}" if parameter else message)


class SensorError(St2liteError):
    """Raised when a sensor cannot be loaded or started (bad entry point, missing class, failing setup)."""


class AuthError(St2liteError):
    """Raised when a caller or a credential cannot be accepted."""


class AuthenticationError(AuthError):
    """No credentials, or wrong, expired or revoked ones. The message never says which, to leak nothing."""


class PermissionDeniedError(AuthError):
    """The caller is known but its role does not grant the permission the request needs."""

    def __init__(self, who: str, role: str, permission: str, what: str = "") -> None:
        self.who = who
        self.role = role
        self.permission = permission
        doing = f" to {what}" if what else ""
        super().__init__(
            f"{who} (role {role}) lacks the permission '{permission}'{doing}; "
            "ask an admin for a role that grants it (docs/auth.md)"
        )


class UsersFileError(AuthError):
    """The users file cannot be read, parsed or written, or a user named in a request is not in it."""


class ApiKeyNotFoundError(AuthError):
    """No API key has the given id (or key)."""

    def __init__(self, ref: str) -> None:
        self.ref = ref
        super().__init__(f'API key "{ref}" is not found; list the keys with GET /api/v1/apikeys')
