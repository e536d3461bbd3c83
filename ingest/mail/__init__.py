"""Mail to ticket (docs/inbound.md): parse a mail (``parsing``), find the ticket it answers
(``threading``), and act on it (``intake``: a new incident, a comment, a reopen); the SMTP
listener (``smtp``) and the .eml / Maildir reader (``files``) feed it. Plain Python: the CLI and
the tests call it; no FastAPI here."""
