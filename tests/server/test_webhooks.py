"""Webhooks to a local receiver: JSON body, HMAC signature with the token's
secret, retries with backoff after a 500, redirects not followed, private
addresses refused unless allowed, deliveries surviving a restart."""
import http.server
import json
import os
import re
import threading
import time
import unittest

from harness import (CC, JPEG, Server, ServerTest, curl, main, verify_signature)


class Receiver:
    """An HTTP server that records each POST and answers from a script."""

    def __init__(self, answers):
        self.answers = list(answers)  # status codes, the last one repeats
        self.requests = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.requests.append((self.path, dict(self.headers), body, time.time()))
                    status = receiver.answers.pop(0) if len(receiver.answers) > 1 else \
                        receiver.answers[0]
                self.send_response(status)
                if status in (301, 302, 307, 308):
                    self.send_header("Location", "http://127.0.0.1:%d/elsewhere" %
                                     self.server.server_port)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_port
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path="/hook"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def wait(self, n, timeout=120):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if len(self.requests) >= n:
                    return list(self.requests)
            time.sleep(0.02)
        raise AssertionError("receiver got %d of %d requests" % (len(self.requests), n))

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def metric(server, name):
    text = curl(server.url("/metrics")).body.decode()
    m = re.search(re.escape(name) + r" (\d+)", text)
    return int(m.group(1)) if m else None


class Webhooks(ServerTest):
    server_args = ("--webhook-allow", "127.0.0.1,localhost", "--webhook-allow-private",
                   "--webhook-retry-base", "200ms")

    def receiver(self, answers):
        r = Receiver(answers)
        self.addCleanup(r.close)
        return r

    def test_signed_and_retried_after_a_500(self):
        rx = self.receiver([500, 200])
        r = self.server.start_job(self.token, CC, JPEG, "-F", "hook=" + rx.url())
        self.assertEqual(r.status, 200, r)
        job_id = r.json()["id"]
        first, second = rx.wait(2)
        for path, headers, body, _ in (first, second):
            self.assertEqual(path, "/hook")
            self.assertEqual(headers["Content-Type"], "application/json")
            self.assertEqual(headers["X-Retouch-Event"], "job.completed")
            self.assertTrue(verify_signature(self.secret, body, headers["X-Retouch-Signature"]),
                            headers)
            self.assertFalse(verify_signature("wrong-secret", body,
                                              headers["X-Retouch-Signature"]))
            doc = json.loads(body)
            self.assertEqual(doc, {"id": job_id, "state": "completed", "reason": "",
                                   "progress": 100, "expireDate": doc["expireDate"]})
            self.assertEqual(doc["expireDate"], self.server.status(job_id).json()["expireDate"])
        self.assertEqual(first[2], second[2], "a retry sends the same body")
        self.assertGreaterEqual(second[3] - first[3], 0.15, "the retry waited for its backoff")
        time.sleep(1.0)  # no third call after the 200
        self.assertEqual(len(rx.requests), 2)
        self.assertEqual(metric(self.server,
                                'retouchd_webhook_deliveries_total{result="delivered"}'), 1)
        self.assertEqual(metric(self.server,
                                'retouchd_webhook_deliveries_total{result="retry"}'), 1)

    def test_failed_job_event(self):
        rx = self.receiver([200])
        with open(JPEG, "rb") as f:
            cut = self.tmpfile("cut.jpg", f.read()[:3000])
        r = self.server.start_job(self.token, CC, cut, "-F", "hook=" + rx.url())
        (_, headers, body, _), = rx.wait(1)
        self.assertEqual(headers["X-Retouch-Event"], "job.failed")
        doc = json.loads(body)
        self.assertEqual(doc["state"], "failed")
        self.assertEqual(doc["id"], r.json()["id"])
        self.assertTrue(doc["reason"])

    def test_gives_up_after_five_tries_and_never_follows_redirects(self):
        rx = self.receiver([302, 500])
        self.server.start_job(self.token, CC, JPEG, "-F", "hook=" + rx.url())
        calls = rx.wait(5)
        time.sleep(2 * 0.2 * 16)  # twice the next backoff: no sixth try comes
        self.assertEqual(len(rx.requests), 5)
        self.assertEqual([c[0] for c in calls], ["/hook"] * 5, "the redirect was not followed")
        gaps = [b[3] - a[3] for a, b in zip(calls, calls[1:])]
        self.assertEqual(gaps, sorted(gaps), "the backoff grows")
        self.assertEqual(metric(self.server,
                                'retouchd_webhook_deliveries_total{result="failed"}'), 1)

    def test_delivery_survives_a_restart(self):
        rx = self.receiver([500, 200])
        self.stop_clean()
        self.server.args = [a for a in self.server.args if a != "200ms"]
        self.server.args[self.server.args.index("--webhook-retry-base") + 1:
                         self.server.args.index("--webhook-retry-base") + 1] = ["3s"]
        self.server.start()
        r = self.server.start_job(self.token, CC, JPEG, "-F", "hook=" + rx.url())
        rx.wait(1)
        self.stop_clean()  # the retry is due in 3 s: it waits in the store
        self.server.start()
        _, (_, headers, body, _) = rx.wait(2)
        self.assertEqual(json.loads(body)["id"], r.json()["id"])
        self.assertTrue(verify_signature(self.secret, body, headers["X-Retouch-Signature"]))


class PrivateAddresses(ServerTest):
    server_args = ("--webhook-allow", "127.0.0.1,localhost")

    def test_private_addresses_refused(self):
        rx = Receiver([200])
        self.addCleanup(rx.close)
        # A loopback literal is refused at start...
        r = self.server.start_job(self.token, CC, JPEG, "-F", "hook=" + rx.url())
        self.assertError(r, 400, "private")
        # ...a name that resolves to one is refused when connecting.
        r = self.server.start_job(self.token, CC, JPEG, "-F",
                                  "hook=http://localhost:%d/hook" % rx.port)
        self.assertEqual(r.status, 200, r)
        job_id = r.json()["id"]
        self.assertEqual(self.server.wait_job(job_id)["state"], "completed")
        deadline = time.time() + 60
        while time.time() < deadline:
            failed = [e for e in self.server.log_events()
                      if e["event"] == "webhook.failed" and e.get("job") == job_id]
            if failed:
                break
            time.sleep(0.05)
        self.assertTrue(failed)
        self.assertIn("private", failed[0]["msg"])
        self.assertEqual(rx.requests, [])


if __name__ == "__main__":
    main()
