"""The seed's hello application in Python, served by a Python WSGI server,
for `tests/bench/peers.ts`.

    python3 hello_wsgi.py wsgiref      # wsgiref.simple_server (one thread)
    python3 hello_wsgi.py werkzeug     # werkzeug.serving, threaded=True (run_simple's server)
    python3 hello_wsgi.py gunicorn-sync|gunicorn-gthread [WORKERS]

Each listens on 127.0.0.1 on a free port, prints ``http://127.0.0.1:PORT`` on
stdout (how the benchmark learns the port) and logs every request to stderr,
as the servers do by default (gunicorn's access log is turned on to match).
gunicorn is exec'd in place of this process, so its master keeps this pid.
"""

import os
import socket
import sys


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/html")])
    return [b"<h1>Hello,web</h1>"]


def announce(port):
    print(f"Serving HTTP on http://127.0.0.1:{port}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(kind, workers="2"):
    if kind == "wsgiref":
        from wsgiref.simple_server import make_server

        httpd = make_server("127.0.0.1", 0, application)
        announce(httpd.server_port)
        httpd.serve_forever()
    elif kind == "werkzeug":
        from werkzeug.serving import make_server

        httpd = make_server("127.0.0.1", 0, application, threaded=True)
        announce(httpd.server_port)
        httpd.serve_forever()
    elif kind in ("gunicorn-sync", "gunicorn-gthread"):
        port = free_port()
        here = os.path.dirname(os.path.abspath(__file__))
        args = ["gunicorn", "--chdir", here, "-b", f"127.0.0.1:{port}", "-w", workers,
                "--access-logfile", "/dev/stderr", "--log-level", "warning"]
        if kind == "gunicorn-gthread":
            args += ["-k", "gthread", "--threads", "4"]
        announce(port)
        os.execvp(args[0], args + ["hello_wsgi:application"])
    else:
        sys.exit(f"unknown server kind {kind!r}")


if __name__ == "__main__":
    main(*sys.argv[1:])
