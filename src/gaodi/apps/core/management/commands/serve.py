"""`gaodi serve`: migrate, then run the web server and a task worker together until stopped.

The web server is Django's threaded WSGI server (the one behind `runserver`, without the autoreloader)
in this process; the task worker (`gaodi worker`) is a child process. SIGINT and SIGTERM are forwarded
to the worker and stop the web server; if either of the two dies, the other is stopped as well and the
command exits with status 1. Good for a demo, a laptop or a small pilot; at scale, run gunicorn or
granian behind a reverse proxy and `gaodi worker` processes next to it.
"""

from __future__ import annotations

import errno
import signal
import subprocess
import sys
import threading

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler, get_internal_wsgi_application

WORKER_STOP_SECONDS = 20  # a task in progress gets this long to finish before the worker is killed


def _port(value: str) -> int:
    port = int(value)
    if not 0 <= port <= 65535:
        raise ValueError(value)
    return port


class Command(BaseCommand):
    help = (
        "Run Gaodi: apply migrations, then serve the web application and run a background task worker "
        "until Ctrl+C or SIGTERM. --port 0 picks a free port. For production, run gunicorn or granian "
        "behind a reverse proxy instead, with `gaodi worker` processes next to it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1",
                            help="Address to listen on (default: %(default)s; 0.0.0.0 for all interfaces, "
                                 "then set GAODI_ALLOWED_HOSTS).")
        parser.add_argument("--port", type=_port, default=8000, help="Port to listen on (default: %(default)s).")
        parser.add_argument("--no-worker", action="store_true",
                            help="Do not start a task worker (run `gaodi worker` yourself).")
        parser.add_argument("--no-migrate", action="store_true", help="Do not apply migrations first.")

    def handle(self, *args, host: str, port: int, no_worker: bool, no_migrate: bool, verbosity: int,
               **options) -> None:
        if not no_migrate:
            call_command("migrate", interactive=False, verbosity=max(0, verbosity - 1), stdout=self.stdout)
        httpd = self._bind(host, port)
        httpd.set_app(get_internal_wsgi_application())
        server = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.5},
                                  name="gaodi-web", daemon=True)
        stop = threading.Event()
        signalled: list[int] = []
        worker: subprocess.Popen[bytes] | None = None

        def on_signal(signum: int, frame: object) -> None:
            signalled.append(signum)
            if worker is not None and worker.poll() is None:
                worker.send_signal(signum)  # a second Ctrl+C reaches the worker too: it aborts its task
            stop.set()

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        failure = ""
        try:
            if not no_worker:
                worker = self._start_worker(verbosity)
            server.start()
            bound_host, bound_port = httpd.server_address[:2]
            shown = f"[{bound_host}]" if ":" in str(bound_host) else bound_host
            self.stdout.write(self.style.SUCCESS(f"Gaodi is running at http://{shown}:{bound_port}/"))
            self.stdout.write(
                f"Task worker: {'pid ' + str(worker.pid) if worker else 'not started (--no-worker)'}. "
                "Stop with Ctrl+C.")
            self.stdout.flush()
            while not stop.wait(0.5):
                if worker is not None and worker.poll() is not None:
                    failure = f"the task worker stopped (exit status {worker.returncode}); stopping the web server"
                    break
                if not server.is_alive():
                    failure = "the web server stopped; stopping the task worker"
                    break
        finally:
            if server.is_alive():
                httpd.shutdown()
            httpd.server_close()
            if worker is not None:
                self._stop_worker(worker, already_signalled=bool(signalled))
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if failure:
            raise CommandError(failure, returncode=1)
        self.stdout.write("Gaodi stopped.")

    def _bind(self, host: str, port: int) -> ThreadedWSGIServer:
        try:
            return ThreadedWSGIServer((host, port), WSGIRequestHandler, ipv6=":" in host)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise CommandError(
                    f"Port {port} on {host} is already in use. Stop the other server or choose another "
                    "--port (0 picks a free one).") from exc
            raise CommandError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}. Check --host.") from exc

    def _start_worker(self, verbosity: int) -> subprocess.Popen[bytes]:
        # Its own process group: a terminal's Ctrl+C reaches only this process, which forwards it once,
        # so the worker finishes its current task instead of taking two signals and aborting it.
        return subprocess.Popen(  # noqa: S603 - our own interpreter and module, no user input
            [sys.executable, "-m", "gaodi.cli", "worker", "--no-reload", "--no-startup-delay",
             f"--verbosity={verbosity}"],
            start_new_session=True,
        )

    def _stop_worker(self, worker: subprocess.Popen[bytes], already_signalled: bool) -> None:
        if worker.poll() is not None:
            return
        if not already_signalled:
            worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=WORKER_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.stderr.write(f"The task worker did not stop within {WORKER_STOP_SECONDS} s; killing it.")
            worker.kill()
            worker.wait()
