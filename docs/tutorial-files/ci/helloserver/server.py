#!/usr/bin/env python3
"""helloserver: answers every request with the host's name and its environment."""
import os
import socket
from http.server import BaseHTTPRequestHandler, HTTPServer


def hello(environ):
    """The body of every answer."""
    lines = [f"You have reached {socket.gethostname()} -", "Env Vars"]
    lines += [f"{k}={v}" for k, v in sorted(environ.items())]
    return "\n".join(lines) + "\n"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = hello(os.environ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "8080"))
    HTTPServer(("", port), Handler).serve_forever()
