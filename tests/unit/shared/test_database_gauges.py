"""Figures read from the database at scrape time are read at most once a period by a process,
however often and however concurrently it is scraped."""

import threading
import time

from shared.metrics import ReadAtMostEvery


class SlowCount:
    """A collector whose read takes a while, counting its reads."""

    def __init__(self, seconds: float = 0.0):
        self.reads, self.seconds = 0, seconds

    def collect(self):
        self.reads += 1
        time.sleep(self.seconds)
        return [f"figures of read {self.reads}"]


def test_scrapes_within_the_period_get_the_figures_last_read():
    count = SlowCount()
    gauges = ReadAtMostEvery(count, seconds=60)
    assert [gauges.collect() for _ in range(5)] == [["figures of read 1"]] * 5
    assert count.reads == 1


def test_after_the_period_the_next_scrape_reads_again():
    count = SlowCount()
    gauges = ReadAtMostEvery(count, seconds=0.05)
    gauges.collect()
    time.sleep(0.06)
    assert gauges.collect() == ["figures of read 2"]


def test_concurrent_scrapes_wait_for_one_read_instead_of_piling_reads_up():
    count = SlowCount(seconds=0.2)
    gauges = ReadAtMostEvery(count, seconds=60)
    answers = []
    scrapes = [threading.Thread(target=lambda: answers.append(gauges.collect()))
               for _ in range(6)]
    for scrape in scrapes:
        scrape.start()
    for scrape in scrapes:
        scrape.join()
    assert count.reads == 1 and answers == [["figures of read 1"]] * 6


def test_the_period_defaults_from_the_environment(monkeypatch):
    monkeypatch.setenv("DATABASE_GAUGES_SECONDS", "42")
    assert ReadAtMostEvery(SlowCount()).seconds == 42.0
