#!/usr/bin/env python3
"""A mail relay for the end-to-end tests: aiosmtpd (PyPI, in .build/tools-venv) on 127.0.0.1.

Usage: smtp_relay.py PORT_FILE LOG_FILE MODE_FILE CERT_FILE KEY_FILE USER PASSWORD

Requires STARTTLS (with CERT_FILE/KEY_FILE) before anything else and AUTH (USER/PASSWORD) before
MAIL. Each message it takes is parsed with Python's email package and recorded as one JSON line:
envelope, the authenticated user, decoded subject, the text and HTML parts, and the headers.
MODE_FILE, read per message: "ok" (250, the default) or "fail" (451, try again later).
"""
import email, email.policy, json, os, signal, socket, ssl, sys, threading
from fixture_common import announce_port, exit_with_parent
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port_file, log_file, mode_file, cert, key, user, password = sys.argv[1:8]


exit_with_parent()
lock = threading.Lock()


class Handler:
    async def handle_DATA(self, server, session, envelope):
        try:
            mode = open(mode_file).read().strip() or "ok"
        except FileNotFoundError:
            mode = "ok"
        if mode == "fail":
            return "451 4.3.0 try again later"
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        parts = {part.get_content_type(): part.get_content() for part in message.walk() if not part.is_multipart()}
        record = {"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                  "user": session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None,
                  "tls": session.ssl is not None, "subject": str(message["subject"]), "from": str(message["from"]), "to": str(message["to"]),
                  "headers": {k.lower(): str(v) for k, v in message.items()},
                  "text": parts.get("text/plain", ""), "html": parts.get("text/html", "")}
        with lock, open(log_file, "a") as log:
            log.write(json.dumps(record) + "\n")
        return "250 2.0.0 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == user.encode() and auth_data.password == password.encode()
    return AuthResult(success=ok, auth_data=auth_data)


context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)
with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
controller = Controller(Handler(), hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                        authenticator=authenticator, auth_required=True, auth_require_tls=True)
controller.start()
announce_port(port_file, port)
signal.sigwait({signal.SIGTERM, signal.SIGINT})
controller.stop()
