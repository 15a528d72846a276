"""Emailing a finished report: the summary in the body, the files attached.

`SMTP_URL` (smtp://host:port, smtps://..., user:password@ allowed,
`?starttls` to upgrade) names the server; without it (the embedded default)
each message is written as an .eml file under var/mail/, where a person can
open it. Each message has a Message-ID made from its delivery, so a copy
sent twice (a worker killed between the server's "250 OK" and the commit
that records it) is recognisably the same message.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from services.reports.render import CONTENT_TYPES
from shared.config import Settings
from shared.db import utcnow


class MailFailed(Exception):
    """The message was not accepted; worth another try later."""


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    body: str
    attachments: tuple[Attachment, ...]
    message_id: str


def compose(settings: Settings, mail: Mail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = mail.message_id
    message.set_content(mail.body)
    for attachment in mail.attachments:
        maintype, subtype = attachment.content_type.split(";")[0].split("/")
        message.add_attachment(attachment.content, maintype=maintype, subtype=subtype,
                               filename=attachment.filename)
    return message


def send(settings: Settings, mail: Mail) -> str:
    """Send (or, without SMTP_URL, write) the message; where it went. Raises MailFailed."""
    message = compose(settings, mail)
    if not settings.smtp_url:
        return _write_eml(settings.var_dir / "mail", mail, message)
    url = urlsplit(settings.smtp_url)
    secure = url.scheme == "smtps"
    port = url.port or (465 if secure else 25)
    try:
        server: smtplib.SMTP
        if secure:
            server = smtplib.SMTP_SSL(url.hostname or "127.0.0.1", port, timeout=30,
                                      context=ssl.create_default_context())
        else:
            server = smtplib.SMTP(url.hostname or "127.0.0.1", port, timeout=30)
        with server:
            if "starttls" in parse_qs(url.query, keep_blank_values=True):
                server.starttls(context=ssl.create_default_context())
            if url.username:
                server.login(unquote(url.username), unquote(url.password or ""))
            server.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        raise MailFailed(f"{type(error).__name__}: {error}") from error
    return f"{url.hostname}:{port}"


def _write_eml(folder: Path, mail: Mail, message: EmailMessage) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    name = mail.message_id.strip("<>").split("@")[0] + ".eml"
    path = folder / name
    partial = path.with_suffix(".eml.partial")
    partial.write_bytes(bytes(message))
    partial.replace(path)  # whole or not at all
    return str(path)


def attachment(report_id: int, period: str, scope_key: str, fmt: str, content: bytes) -> Attachment:
    safe_scope = scope_key.replace(":", "-")
    return Attachment(f"report-{report_id}-{period}-{safe_scope}.{fmt}", CONTENT_TYPES[fmt], content)
