"""Scheduling under load (issue 14 items 6, 7, 8): fairness across tokens,
the memory budget, concurrent webhooks.  Only 127.0.0.1."""
import os
import socket
import sqlite3
import threading
import time
import unittest

from harness import CC, JPEG, SANITIZED, TEST_DATA, ServerTest, main
from test_webhooks import Receiver

BIG = os.path.join(TEST_DATA, "london_012_800.jpg")
SLOW = ('{"mode":"professional","tasks":[{"Plugin":"Crop","Layer":1,"User Params":'
        '{"AutoStraightenMode":"AI"}},{"Plugin":"Color Correction","Layer":1}]}')


def job_times(data_dir):
    db = sqlite3.connect("file:%s/retouchd.db?mode=ro" % data_dir, uri=True)
    try:
        return {r[0]: r[1:] for r in db.execute(
            "SELECT id, token_id, created_ms, started_ms, finished_ms, state FROM jobs")}
    finally:
        db.close()


class Fairness(ServerTest):
    """Item 7: one token's burst does not make another token's job wait for
    all of it."""

    workers = 1

    def test_second_token_is_not_behind_the_whole_burst(self):
        other, _ = self.server.create_token("other")
        burst = [self.server.start_job(self.token, SLOW, BIG).json()["id"] for _ in range(6)]
        r = self.server.start_job(other, CC, JPEG)
        self.assertEqual(r.status, 200, r)
        small = r.json()["id"]
        self.assertEqual(self.server.wait_job(small)["state"], "completed")
        rows = job_times(self.server.data)
        _, created, started, finished, _ = rows[small]
        # Burst jobs that started after the small job arrived and before it
        # started: none may (one worker: it is next once the running one ends).
        overtaking = [j for j in burst if created < rows[j][2] < started]
        print("\nsmall job waited %d ms (ran %d ms); %d burst jobs overtook it" %
              (started - created, finished - started, len(overtaking)))
        self.assertEqual(overtaking, [])


def rss_bytes(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class MemoryBudget(ServerTest):
    """Item 6: jobs whose expected peaks do not fit in --max-memory together
    wait for each other; RSS stays under the budget."""

    workers = 3
    budget_mib = 300  # one 1 MP job expects ~212 MiB: two do not fit
    server_args = ("--max-memory", "%dM" % budget_mib, "--threads-per-worker", "1")

    def test_large_images_wait_for_memory(self):
        from harness import make_png
        image = self.tmpfile("big.png", make_png(1000, 1000))
        idle = rss_bytes(self.server.proc.pid)
        ids = [self.server.start_job(self.token, CC, image).json()["id"] for _ in range(3)]
        peak = idle
        deadline = time.time() + 600
        while time.time() < deadline:
            peak = max(peak, rss_bytes(self.server.proc.pid))
            states = [self.server.status(j).json()["state"] for j in ids]
            if all(st in ("completed", "failed") for st in states):
                break
            time.sleep(0.02)
        self.assertEqual(states, ["completed"] * 3)
        # When each job ran: from job.started (logged once it has its
        # memory) to job.completed.
        begin, end = {}, {}
        for e in self.server.log_events():
            if e.get("event") == "job.started":
                begin[e["job"]] = e["ts"]
            elif e.get("event") == "job.completed":
                end[e["job"]] = e["ts"]
        spans = sorted((begin[j], end[j]) for j in ids)
        overlaps = sum(1 for a, b in zip(spans, spans[1:]) if b[0] < a[1])
        print("\nidle %d MiB, peak %d MiB with 3 jobs of 1 MP; %d overlaps" %
              (idle >> 20, peak >> 20, overlaps))
        self.assertEqual(overlaps, 0)  # one at a time: two do not fit
        if not SANITIZED:  # ASan's shadow memory and quarantine are not the job's
            self.assertLess(peak - idle, self.budget_mib << 20)


class Silent:
    """A receiver on 127.0.0.1 that accepts connections and never answers;
    counts those the server still holds open."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.lock = threading.Lock()
        self.running = True
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while self.running:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.conns.append(c)

    def open_count(self):
        n = 0
        with self.lock:
            for c in self.conns:
                c.setblocking(False)
                try:
                    while True:
                        data = c.recv(65536)
                        if not data:
                            break  # the server closed it
                except BlockingIOError:
                    n += 1  # still open, nothing more to read
                except OSError:
                    pass
        return n

    def close(self):
        self.running = False
        with self.lock:
            for c in self.conns:
                c.close()
            self.conns = []
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes accept()
        except OSError:
            pass
        self.sock.close()


class ConcurrentWebhooks(ServerTest):
    """Item 8: a receiver that never answers does not hold up the others."""

    server_args = ("--webhook-allow", "127.0.0.1", "--webhook-allow-private",
                   "--webhook-timeout", "60s")

    def test_slow_receiver_does_not_delay_others(self):
        silent = Silent()
        self.addCleanup(silent.close)
        rx = Receiver([200])
        self.addCleanup(rx.close)
        slow = [self.server.start_job(self.token, CC, JPEG, "-F",
                                      "hook=http://127.0.0.1:%d/h" % silent.port).json()["id"]
                for _ in range(6)]
        for j in slow:
            self.server.wait_job(j)
        fast = self.server.start_job(self.token, CC, JPEG, "-F", "hook=" + rx.url())
        self.server.wait_job(fast.json()["id"])
        t0 = time.time()
        rx.wait(1, timeout=50)  # well inside the 60 s the silent receiver holds each try
        held = silent.open_count()
        print("waited %.1f s" % (time.time() - t0))
        print("\nfast hook delivered while %d connections to the silent receiver were open" %
              held)
        self.assertGreater(held, 0)
        # At most 2 at once to one host: the others wait their turn.
        self.assertLessEqual(held, 2)
        # Stopping aborts the deliveries in flight (they stay queued).
        t1 = time.time()
        self.stop_clean()
        print("stopped in %.1f s" % (time.time() - t1))


if __name__ == "__main__":
    main()
