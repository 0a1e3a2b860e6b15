import logging

from streams.worker.log_limits import RepeatFilter


def _record(msg, *args, level=logging.ERROR, name="aiokafka"):
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


def test_a_storm_of_one_kind_becomes_one_line_per_interval_with_a_count():
    now = [0.0]
    f = RepeatFilter(10.0, clock=lambda: now[0])
    passed = []
    for i in range(1000):  # one reconnect attempt every 20 ms for 20 s
        now[0] = i * 0.02
        record = _record("Unable connect to node with id %s: port %d", 1, 9092 + i % 3)
        if f.filter(record):
            passed.append(record.getMessage())
    assert len(passed) == 2
    assert passed[1].endswith("(+499 like it in the last 10 s)")
    assert f.filter(_record("another kind of error"))
    assert f.filter(_record("Unable connect to node with id %s", 1, level=logging.INFO))


def test_lines_that_say_different_things_are_different_kinds():
    f = RepeatFilter(10.0, clock=lambda: 0.0)
    assert f.filter(_record("rejected profile for model key %r: %s", "a", "NaN shares", name="driftline.profiles"))
    assert f.filter(_record("rejected profile for model key %r: %s", "b", "NaN shares", name="driftline.profiles"))
    assert f.filter(_record("rejected profile for model key %r: %s", "m1", "NaN shares", name="driftline.profiles"))
    assert f.filter(_record("rejected profile for model key %r: %s", "m2", "NaN shares", name="driftline.profiles"))


def test_the_same_warning_about_two_partitions_is_two_lines():
    f = RepeatFilter(10.0, clock=lambda: 0.0)
    text = "partition %d: the consumer skipped offsets %d-%d (faust repositioned it); seeking back to %d"
    assert f.filter(_record(text, 2, 120, 257, 120, name="driftline.worker"))
    assert f.filter(_record(text, 3, 231, 315, 231, name="driftline.worker"))
    assert not f.filter(_record(text, 3, 400, 410, 400, name="driftline.worker"))  # the same partition again
