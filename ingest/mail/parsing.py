"""A raw mail → what intake needs: sender, subject, Message-ID, threading headers, the text of
the body, the attachments, and whether a machine sent it (auto-reply, bounce, list)."""

import email
import email.policy
import hashlib
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

MESSAGE_ID = re.compile(r"<[^<>\s]+>")
# Senders that are machines by name (bounces come from these).
DAEMON_SENDERS = ("mailer-daemon", "postmaster")
BULK_PRECEDENCE = ("bulk", "junk", "list", "auto_reply")
AUTOREPLY_HEADERS = ("x-autoreply", "x-autorespond", "x-auto-reply")


@dataclass
class Attachment:
    filename: str
    content_type: str
    payload: bytes


@dataclass
class ParsedMail:
    message_id: str
    sender: str  # the From address, lower case ("" when there is none)
    sender_name: str
    subject: str
    body: str
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    automatic: str | None = None  # why a machine sent it, else None
    size: int = 0


class _Text(HTMLParser):
    """The text of an HTML body (for mails without a plain part)."""

    BREAKS = {"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "head"):
            self.skip += 1
        elif tag in self.BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style", "head") and self.skip:
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def html_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(line.strip() for line in text.splitlines())).strip()


def _ids(value: str | None) -> list[str]:
    return MESSAGE_ID.findall(str(value or ""))


def _header(message: EmailMessage, name: str) -> str:
    try:
        value = message.get(name)
    except Exception:  # a header the policy cannot parse: treat it as absent
        return ""
    return str(value or "").replace("\x00", "").strip()


def automatic_reason(message: EmailMessage, sender: str, envelope_from: str | None) -> str | None:
    """Why the mail was sent by a machine (RFC 3834 and common practice), else None."""
    auto_submitted = _header(message, "Auto-Submitted").lower()
    if auto_submitted and auto_submitted != "no":
        return f"Auto-Submitted: {auto_submitted}"
    precedence = _header(message, "Precedence").lower()
    if precedence in BULK_PRECEDENCE:
        return f"Precedence: {precedence}"
    for name in AUTOREPLY_HEADERS:
        if _header(message, name):
            return f"{name} header"
    if envelope_from is not None and envelope_from.strip() in ("", "<>"):
        return "null sender (bounce)"
    if _header(message, "Return-Path").replace(" ", "") == "<>":
        return "null sender (bounce)"
    if message.get_content_type() == "multipart/report":
        return "delivery status report (bounce)"
    if sender.split("@")[0] in DAEMON_SENDERS:
        return f"sent by {sender}"
    return None


def _body(message: EmailMessage) -> str:
    part = None
    try:
        part = message.get_body(preferencelist=("plain", "html"))
    except Exception:
        part = None
    if part is None:
        return ""
    try:
        content = part.get_content()
    except Exception:  # an unknown charset or broken encoding: the bytes, leniently
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("utf-8", errors="replace")
    if not isinstance(content, str):
        return ""
    if part.get_content_type() == "text/html":
        content = html_text(content)
    return content.replace("\r\n", "\n").strip()


def _attachments(message: EmailMessage) -> list[Attachment]:
    found = []
    for part in message.iter_attachments() if message.is_multipart() else ():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        if payload is None:
            continue
        filename = part.get_filename() or f"attachment-{len(found) + 1}"
        filename = re.sub(r"[\x00-\x1f/\\]", "_", filename).strip() or "attachment"
        found.append(Attachment(filename, part.get_content_type(), payload))
    return found


def parse(raw: bytes, *, envelope_from: str | None = None) -> ParsedMail:
    """Parse a mail. A mail without a Message-ID gets one from its bytes' sha256, so that the
    same file imported twice is still recognised."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    name, address = parseaddr(_header(message, "From"))
    if not address and envelope_from:
        address = envelope_from
    sender = address.strip().lower()
    ids = _ids(_header(message, "Message-ID"))
    message_id = ids[0] if ids else f"<sha256.{hashlib.sha256(raw).hexdigest()}@no-message-id>"
    subject = re.sub(r"\s+", " ", _header(message, "Subject")).strip()
    return ParsedMail(
        message_id=message_id,
        sender=sender,
        sender_name=name.strip(),
        subject=subject,
        body=_body(message).replace("\x00", ""),
        in_reply_to=_ids(_header(message, "In-Reply-To")),
        references=_ids(_header(message, "References")),
        attachments=_attachments(message),
        automatic=automatic_reason(message, sender, envelope_from),
        size=len(raw),
    )


def message_id_only(raw: bytes) -> str:
    """The Message-ID of a mail read no further than its headers (for one too large to parse)."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    message = email.message_from_bytes(head, policy=email.policy.default)
    ids = _ids(_header(message, "Message-ID"))
    return ids[0] if ids else f"<sha256.{hashlib.sha256(raw).hexdigest()}@no-message-id>"


def sender_only(raw: bytes) -> str:
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    message = email.message_from_bytes(head, policy=email.policy.default)
    addresses = getaddresses([_header(message, "From")])
    return addresses[0][1].lower() if addresses else ""
