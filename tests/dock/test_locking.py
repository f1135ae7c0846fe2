"""The dock lock excludes the threads of one process too (a server shares one Dock among its request
threads), and stays re-entrant within a thread."""

from __future__ import annotations

import threading
import time

from modelreuse.dock.locking import DockLock


def test_threads_sharing_one_lock_never_overlap(tmp_path):
    lock = DockLock(tmp_path)
    inside, most_inside = [0], [0]

    def critical_section() -> None:
        for _ in range(5):
            with lock:
                inside[0] += 1
                most_inside[0] = max(most_inside[0], inside[0])
                time.sleep(0.002)
                inside[0] -= 1

    threads = [threading.Thread(target=critical_section) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most_inside[0] == 1


def test_lock_is_reentrant_within_a_thread_and_released_after(tmp_path):
    lock = DockLock(tmp_path)
    with lock, lock:
        pass
    acquired = threading.Event()

    def other() -> None:
        with lock:
            acquired.set()

    thread = threading.Thread(target=other)
    thread.start()
    thread.join(timeout=10)
    assert acquired.is_set()
