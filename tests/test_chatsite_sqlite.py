"""The SQLite writer queue: first come, first served, so a job written in many short transactions
cannot keep the writers that queued meanwhile waiting."""

import threading
import time

from chatsite.sqlite.base import FairLock


def test_the_writer_lock_goes_to_waiters_in_the_order_they_came() -> None:
    lock = FairLock()
    lock.acquire()
    order: list[str] = []

    def writer(name: str) -> None:
        lock.acquire()
        order.append(name)
        lock.release()

    threads = []
    for name in ("first", "second", "third"):
        thread = threading.Thread(target=writer, args=(name,))
        thread.start()
        threads.append(thread)
        while len(lock._waiting) < len(threads):  # queued before the next one comes
            time.sleep(0.001)
    lock.release()
    lock.acquire()  # the holder comes back at once: it queues behind the three
    order.append("holder again")
    lock.release()
    for thread in threads:
        thread.join(timeout=5)
    assert order == ["first", "second", "third", "holder again"]
