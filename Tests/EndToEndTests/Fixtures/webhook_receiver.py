#!/usr/bin/env python3
"""A webhook receiver for the end-to-end tests (standard library only).

Usage: webhook_receiver.py PORT_FILE LOG_FILE MODE_FILE [CERT_FILE KEY_FILE]

Writes the port it listens on (127.0.0.1) to PORT_FILE, then records every POST as one JSON
line in LOG_FILE: path, headers, body, the status it answered and the mode it was in. MODE_FILE
says how to answer, read per request: "ok" (200, the default), "fail" (500), or "slow" (record,
wait 3 s, then 200: a test kills the sender meanwhile). It checks nothing: the test verifies
signatures and deduplicates by event id, as a real receiver would. With CERT_FILE and KEY_FILE
it speaks HTTPS (TLS 1.2 or 1.3) with that certificate.
"""
import http.server, json, os, ssl, sys, threading, time
from fixture_common import announce_port, exit_with_parent

port_file, log_file, mode_file = sys.argv[1:4]


exit_with_parent()
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        try:
            mode = open(mode_file).read().strip() or "ok"
        except FileNotFoundError:
            mode = "ok"
        status = 500 if mode == "fail" else 200
        with lock, open(log_file, "a") as log:
            log.write(json.dumps({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                  "body": body.decode("utf-8"), "status": status, "mode": mode}) + "\n")
        if mode == "slow":
            time.sleep(3)
        answer = b"ok" if status == 200 else b"not now"
        self.send_response(status)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
if len(sys.argv) > 5:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(sys.argv[4], sys.argv[5])
    server.socket = context.wrap_socket(server.socket, server_side=True)
announce_port(port_file, server.server_address[1])
server.serve_forever()
