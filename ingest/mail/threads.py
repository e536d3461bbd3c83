"""Which ticket a mail answers: our outbound Message-IDs are ``<{number}.{token}@{domain}>``,
so a reply's In-Reply-To or References name the ticket; failing that, the subject may carry the
number (``[INC0000123]`` or plain ``INC0000123``)."""

import re

from ingest.mail.parsing import ParsedMail

NUMBER = r"INC[0-9]{7,18}"
OUR_MESSAGE_ID = re.compile(rf"^<({NUMBER})\.[^@<>\s]+@[^<>\s]+>$", re.IGNORECASE)
IN_SUBJECT = re.compile(rf"(?<![A-Za-z0-9])({NUMBER})(?![0-9])", re.IGNORECASE)
REPLY_PREFIX = re.compile(r"^\s*((re|fw|fwd|aw|sv|wg)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)


def number_in_message_id(message_id: str) -> str | None:
    match = OUR_MESSAGE_ID.match(message_id.strip())
    return match.group(1).upper() if match else None


def ticket_number(mail: ParsedMail) -> str | None:
    """The ticket the mail answers: In-Reply-To first, then References (newest first), then the
    subject; None for a new mail."""
    for message_id in [*mail.in_reply_to, *reversed(mail.references)]:
        number = number_in_message_id(message_id)
        if number:
            return number
    match = IN_SUBJECT.search(mail.subject)
    return match.group(1).upper() if match else None


def clean_subject(subject: str) -> str:
    """The subject as a title: no Re:/Fwd: prefixes."""
    return REPLY_PREFIX.sub("", subject).strip()


QUOTE_HEADER = re.compile(
    r"^(On .{3,200} wrote:|-{2,}\s*Original Message\s*-{2,}|From: .+)$", re.IGNORECASE
)


def reply_text(body: str) -> str:
    """A reply's own words: the quoted message below it (``> ...`` lines, ``On ... wrote:``,
    ``-----Original Message-----``) is cut off."""
    kept = []
    for line in body.splitlines():
        if QUOTE_HEADER.match(line.strip()):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    return "\n".join(kept).strip()
