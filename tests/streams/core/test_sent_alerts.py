from streams.core.sent_alerts import SentAlerts

HOUR = 3600_000


def test_ids_are_forgotten_past_the_horizon_and_past_the_size_cap():
    sent = SentAlerts(horizon_ms=24 * HOUR, max_ids=1000)
    sent.add("old", 0)
    sent.add("recent", 10 * HOUR)
    assert "old" in sent and "recent" in sent
    sent.add("new", 25 * HOUR)  # "old" ended more than 24 h before the newest window
    assert "old" not in sent and "recent" in sent and "new" in sent
    for i in range(5000):
        sent.add(f"id-{i}", 25 * HOUR)
    assert len(sent) == 1000 and "id-4999" in sent and "id-0" not in sent
