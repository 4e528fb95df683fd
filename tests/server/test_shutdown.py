"""SIGTERM: stop accepting, let running jobs finish (up to --shutdown-timeout),
exit 0; what did not run stays queued for the next start."""
import http.client
import os
import signal
import socket
import sqlite3
import time
import unittest

from harness import CC, TEST_DATA, Server, main, multipart

BIG = os.path.join(TEST_DATA, "london_012_800.jpg")
SLOW = ('{"mode":"professional","tasks":[{"Plugin":"Crop","Layer":1,"User Params":'
        '{"AutoStraightenMode":"AI"}},{"Plugin":"Color Correction","Layer":1}]}')


def job_rows(data_dir):
    db = sqlite3.connect("file:%s/retouchd.db?mode=ro" % data_dir, uri=True)
    try:
        return {r[0]: (r[1], r[2]) for r in db.execute("SELECT id, state, attempt FROM jobs")}
    finally:
        db.close()


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        return False
    except (ConnectionRefusedError, ConnectionResetError):
        return True  # reset: the connection was queued as the listen socket closed


class Shutdown(unittest.TestCase):
    def new_server(self, *args, data_dir=None):
        s = Server(*args, data_dir=data_dir, workers=1)
        self.addCleanup(s.cleanup)
        return s.start()

    def submit_and_wait_active(self, server, token, n):
        ids = [server.start_job(token, SLOW, BIG).json()["id"] for _ in range(n)]
        deadline = time.time() + 300
        while time.time() < deadline:
            active = [i for i, (state, _) in job_rows(server.data).items() if state == "active"]
            if active:
                return ids, active[0]
            time.sleep(0.002)
        self.fail("no job became active")

    def test_sigterm_lets_the_running_job_finish(self):
        server = self.new_server("--shutdown-timeout", "5m")
        token, _ = server.create_token("t")
        ids, running = self.submit_and_wait_active(server, token, 3)
        server.proc.send_signal(signal.SIGTERM)
        # New connections are refused while the running job still finishes.
        deadline = time.time() + 60
        while not refused(server.port) and time.time() < deadline:
            time.sleep(0.001)
        self.assertTrue(refused(server.port))
        rc = server.stop()
        server.check_clean_exit(self, rc)
        rows = job_rows(server.data)
        self.assertEqual(rows[running], ("completed", 1))
        for job_id in ids:
            if job_id != running:
                self.assertEqual(rows[job_id][0], "waiting")
        events = [e["event"] for e in server.log_events()]
        self.assertLess(events.index("server.stopping"), events.index("job.completed"))
        self.assertEqual(events[-1], "server.stopped")
        # The next start runs what was left.
        server = self.new_server(data_dir=server.data)
        for job_id in ids:
            self.assertEqual(server.wait_job(job_id)["state"], "completed")
        server.check_clean_exit(self, server.stop())

    def test_timeout_cancels_and_requeues_without_counting(self):
        server = self.new_server("--shutdown-timeout", "0")
        token, _ = server.create_token("t")
        ids, running = self.submit_and_wait_active(server, token, 1)
        rc = server.stop()
        server.check_clean_exit(self, rc)
        state, attempt = job_rows(server.data)[running]
        if state == "completed":
            self.skipTest("the job finished before the cancel reached it")
        self.assertEqual((state, attempt), ("waiting", 0))
        self.assertIn("server.cancel", [e["event"] for e in server.log_events()])
        server = self.new_server(data_dir=server.data)
        st = server.wait_job(running)
        self.assertEqual(st["state"], "completed")
        self.assertEqual(st["attempt"], 1)
        server.check_clean_exit(self, server.stop())

    def test_timeout_is_kept_when_the_engine_does_not_stop(self):
        """Issue 14 item 10: --shutdown-timeout 2s took 3.8 s, the engine
        seeing the cancel only at its next progress report.  Past a short
        grace the job is given back and the process exits."""
        server = self.new_server("--shutdown-timeout", "1s")
        token, _ = server.create_token("t")
        ids, running = self.submit_and_wait_active(server, token, 1)
        t0 = time.time()
        rc = server.stop()
        elapsed = time.time() - t0
        server.check_clean_exit(self, rc)
        state, attempt = job_rows(server.data)[running]
        if state == "completed":
            self.skipTest("the job finished before the cancel reached it")
        self.assertEqual((state, attempt), ("waiting", 0))
        events = [e["event"] for e in server.log_events()]
        print("\nstopped %.2f s after SIGTERM (--shutdown-timeout 1s): %s" %
              (elapsed, events[-4:]))
        # The stop takes the timeout, a 0.3 s grace and the exit, whatever
        # the engine does: 2 s past the timeout is a wide margin (it took
        # 3.8 s in all before, waiting for the engine's next report).
        ts = {e["event"]: e["ts"] for e in server.log_events()}
        def ms(t):
            return (int(t[11:13]) * 3600 + int(t[14:16]) * 60 + float(t[17:23])) * 1000
        stop_ms = ms(ts["server.stopped"]) - ms(ts["server.stopping"])
        self.assertLess(stop_ms, 1000 + 2000, events)
        server = self.new_server(data_dir=server.data)
        self.assertEqual(server.wait_job(running)["state"], "completed")
        server.check_clean_exit(self, server.stop())

    def test_new_upload_while_draining_gets_503(self):
        """Issue 14 item 10: during the drain a new upload on a kept-alive
        connection is answered 503 with Retry-After (the listen socket is
        closed, so that is the only way one can arrive)."""
        server = self.new_server("--shutdown-timeout", "5m")
        token, _ = server.create_token("t")
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        conn.request("GET", "/healthz")
        self.assertEqual(conn.getresponse().read() and 200, 200)
        ids, running = self.submit_and_wait_active(server, token, 1)
        server.proc.send_signal(signal.SIGTERM)
        deadline = time.time() + 60
        while not refused(server.port) and time.time() < deadline:
            time.sleep(0.001)
        with open(os.path.join(TEST_DATA, "server_headshot.jpg"), "rb") as f:
            body, ctype = multipart([("token", token.encode(), b"", None),
                                     ("payload", CC.encode(), b"", None),
                                     ("file", f.read(), b'; filename="a.jpg"', "image/jpeg")])
        conn.request("POST", "/api/v1/retoucher/start", body, {"Content-Type": ctype})
        r = conn.getresponse()
        r.read()
        self.assertEqual(r.status, 503)
        self.assertTrue(r.getheader("Retry-After"))
        conn.close()
        # the drain ends by itself once the running job is done; stop() now
        # would send a second signal, which a loaded machine can deliver
        # before the job finishes (then it is given back, not completed)
        server.proc.wait(timeout=300)
        server.check_clean_exit(self, server.stop())
        self.assertEqual(job_rows(server.data)[running][0], "completed")

    def test_sigint_on_an_idle_server(self):
        server = self.new_server()
        rc = server.stop(signal.SIGINT)
        server.check_clean_exit(self, rc)


if __name__ == "__main__":
    main()
