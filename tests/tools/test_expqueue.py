"""Unit tests of tools/expqueue.py, the experiment-queue driver."""

from tools import expqueue


def test_parse_queue_status() -> None:
    text = (
        "Task     Name        Created    Status\n"
        "ad986f1  pushy-gram  02:56 AM   Success\n"
        "1715b61  bad         02:56 AM   Failed\n"
        "57bff9d  gauge-site  02:56 AM   Running\n\n"
        "Worker status: 1 active, 0 idle\n"
    )
    assert expqueue.parse_status(text) == {
        "pushy-gram": "Success",
        "bad": "Failed",
        "gauge-site": "Running",
    }
