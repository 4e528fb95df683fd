"""Scheduling under load (issue 14 items 6, 7, 8): fairness across tokens,
the memory budget, concurrent webhooks.  Only 127.0.0.1."""
import os
import sqlite3
import time
import unittest

from harness import CC, JPEG, TEST_DATA, ServerTest, main

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


if __name__ == "__main__":
    main()
