"""Alert e-mails through the SMTP provider's hook (``SmtpHook``).

``TaskAlertNotifier`` is what the factory puts in ``on_failure_callback`` /
``on_retry_callback``; ``send_mail`` is what it and the run summary use to send (promotion,
warning and drift mails). The SMTP provider is imported only when a mail is sent, never
while parsing.
"""

from __future__ import annotations

import datetime as dt
import logging
import traceback
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate
from typing import Any, Literal

from airflow.sdk import BaseHook, BaseNotifier, conf

from airflow_ml_provider.core.connections import SMTP_CONN_ID
from airflow_ml_provider.notifications.mails import Mail, TaskTrouble, failure_mail, retry_mail

log = logging.getLogger(__name__)
TRACE_LINES = 15


def send_mail(mail: Mail, to: list[str], smtp_conn_id: str, context=None) -> bool:
    """Send ``mail`` as multipart/alternative (the plain text, then the HTML: mail clients
    show the richest part they can) through the SMTP provider's hook, which connects as the
    connection says (SSL, STARTTLS, login or OAuth2). False (and a log line) when the SMTP
    connection does not exist."""
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        BaseHook.get_connection(smtp_conn_id)
    except AirflowNotFoundException:
        log.info("no %s connection; %r not e-mailed", smtp_conn_id, mail.subject)
        return False
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    with SmtpHook(smtp_conn_id) as hook:
        sender = hook.from_email or conf.get("smtp", "smtp_mail_from", fallback=None)
        if not sender:
            raise ValueError(
                f"the {smtp_conn_id} connection has no from_email (extra) and [smtp] "
                "smtp_mail_from is not set: who sends the mail?"
            )
        # The provider's send_email_smtp builds an HTML-only message with attachments; the
        # alternative message is ours, the connected client (SSL/STARTTLS/auth) is the hook's.
        hook._smtp_client.send_message(mime_message(mail, sender, to))
    log.info("e-mailed %r to %s", mail.subject, ", ".join(to))
    return True


def mime_message(mail: Mail, sender: str, to: list[str]) -> EmailMessage:
    """``mail`` as one multipart/alternative message: text/plain, then text/html."""
    # Lines up to RFC 5322's 998 characters: folding at 78 makes Python break a subject
    # before its first word, which some clients show as a blank subject line.
    message = EmailMessage(policy=SMTP.clone(max_line_length=998))
    message["Subject"] = mail.subject
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Date"] = formatdate(localtime=True)
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    return message


class TaskAlertNotifier(BaseNotifier):
    """The failure mail (``on_failure_callback``) or the retry mail (``on_retry_callback``)
    of any task: pipeline, task, try n of m, the error in one line, the last lines of its
    traceback, and a link to the task's log in the Airflow UI ([api] base_url).

    :param event: ``failure`` or ``retry``.
    :param to: who gets the mail.
    :param smtp_conn_id: the SMTP connection.
    """

    template_fields = ()

    def __init__(
        self, event: Literal["failure", "retry"], to: list[str], smtp_conn_id: str = SMTP_CONN_ID
    ) -> None:
        super().__init__()
        self.event = event
        self.to = list(to)
        self.smtp_conn_id = smtp_conn_id

    def notify(self, context) -> None:
        trouble = task_trouble(context)
        if self.event == "failure":
            mail = failure_mail(trouble)
        else:
            mail = retry_mail(trouble, next_try(context["ti"].task, trouble.try_number))
        send_mail(mail, self.to, self.smtp_conn_id, context)


class ConfiguredNotifier(BaseNotifier):
    """An Airflow notifier named in YAML (``alerts.notifiers``): the class is imported and
    instantiated with its kwargs only when there is something to say, so parsing never
    imports it; then it is called with a restricted context (``notifier_context``): its
    templates can name the DAG, task, run, dates and error, never connections, variables,
    macros or live Airflow objects whose methods reach them.

    :param class_path: the notifier's import path, under ``[ml_provider]
        allowed_notifier_modules``.
    :param kwargs: its keyword arguments (Jinja templates, rendered in the sandbox).
    """

    template_fields = ()

    def __init__(self, class_path: str, kwargs: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.class_path = class_path
        self.kwargs = dict(kwargs or {})

    def notify(self, context) -> None:
        notifier = import_notifier(self.class_path)(**self.kwargs)
        safe = notifier_context(context)
        notifier.render_template_fields(safe, jinja_env=safe["dag"].get_template_env())
        notifier.notify(safe)


_PLAIN_CONTEXT_KEYS = (
    "run_id",
    "ds",
    "ts",
    "logical_date",
    "data_interval_start",
    "data_interval_end",
    "reason",
)


def notifier_context(context) -> dict[str, Any]:
    """What a YAML author's notifier templates may see: plain values about the run (no
    ``conn``, ``var``, ``macros``; ``ti``, ``task`` and ``dag`` are plain namespaces of
    their names and numbers, not the objects, whose methods reach the whole context)."""
    from types import SimpleNamespace

    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    # Always sandboxed, whatever the DAG's template settings; unknown names are errors. The
    # plain "dag" hands it out to notifiers that render more fields later (SmtpNotifier).
    sandbox = SandboxedEnvironment(undefined=StrictUndefined, cache_size=0)
    ti = context.get("ti")
    names = {
        "dag_id": getattr(ti, "dag_id", None),
        "task_id": getattr(ti, "task_id", None),
        "run_id": getattr(ti, "run_id", None),
        "try_number": getattr(ti, "try_number", None),
        "map_index": getattr(ti, "map_index", None),
        "log_url": getattr(ti, "log_url", None),
    }
    plain_ti = SimpleNamespace(**names)
    error = context.get("exception")
    return {
        **{key: context[key] for key in _PLAIN_CONTEXT_KEYS if key in context},
        "ti": plain_ti,
        "task_instance": plain_ti,
        "task": SimpleNamespace(task_id=names["task_id"]),
        "dag": SimpleNamespace(
            dag_id=names["dag_id"],
            render_template_as_native_obj=False,
            get_template_env=lambda **_: sandbox,
        ),
        "exception": f"{type(error).__name__}: {error}" if error is not None else None,
    }


def import_notifier(class_path: str) -> type[BaseNotifier]:
    """The notifier class at ``class_path``: a public BaseNotifier subclass defined in a
    package of ``[ml_provider] allowed_notifier_modules`` (``ml.integrity.allowed_code``); TypeError
    saying why not."""
    from airflow_ml_provider import settings
    from airflow_ml_provider.ml.integrity.allowed_code import DisallowedCodeError, resolve_class

    def notifier_kind(found: type) -> str | None:
        if issubclass(found, BaseNotifier):
            return None
        return "is not an Airflow notifier (a BaseNotifier subclass)"

    try:
        return resolve_class(
            class_path, settings.allowed_notifier_modules(), "allowed_notifier_modules",
            notifier_kind,
        )  # fmt: skip
    except DisallowedCodeError as exc:
        raise TypeError(str(exc)) from None


def task_trouble(context) -> TaskTrouble:
    """The facts a failure or retry mail states, from a task callback's context."""
    ti = context["ti"]
    error = context.get("exception")
    if error is None:
        message, tail = "(no exception recorded)", []
    else:
        message = f"{type(error).__name__}: {error}"
        lines = "".join(traceback.format_exception(error)).rstrip().splitlines()
        tail = lines[-TRACE_LINES:]
    return TaskTrouble(
        pipeline=ti.dag_id,
        task_id=ti.task_id,
        run_id=ti.run_id,
        try_number=ti.try_number,
        tries=ti.max_tries + 1,
        error=message,
        trace_tail=tail,
        log_url=ti.log_url,
    )


def next_try(task: Any, try_number: int, now: dt.datetime | None = None) -> str:
    """When the next try starts, as Airflow computes it: retry_delay, or with exponential
    backoff retry_delay × multiplier^(try-1) plus up to as much again, capped at
    max_retry_delay."""
    now = now or dt.datetime.now(dt.UTC)
    delay = task.retry_delay
    multiplier = task.retry_exponential_backoff or 1.0
    if multiplier == 1.0:
        return f"in {_duration(delay)} (at {(now + delay):%H:%M} UTC)"
    low = delay * multiplier ** (try_number - 1)
    high = 2 * low
    if task.max_retry_delay is not None:
        low, high = min(low, task.max_retry_delay), min(high, task.max_retry_delay)
    return f"in {_duration(low)} to {_duration(high)} (exponential backoff)"


def _duration(delay: dt.timedelta) -> str:
    seconds = int(delay.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds / 3600:.1f} h"
