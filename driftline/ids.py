"""Event ids: random UUIDs (version 4) as 32 hex digits, made without a system call.

`uuid.uuid4()` reads os.urandom, which releases the GIL for its system call; in log() that lets
the Monitor's background thread take the GIL in the middle of the service's call, which then
waits for it (measured: calls of 1-4 ms). A Mersenne Twister seeded from os.urandom (again in
every forked child, so that two workers of one service never share a sequence) holds the GIL
throughout; its 128 bits per id make a collision as unlikely as with uuid4.

>>> len(new_event_id()), new_event_id()[12], new_event_id()[16] in "89ab"
(32, '4', True)
"""

from __future__ import annotations

import os
import random

_random = random.Random(os.urandom(32))
os.register_at_fork(after_in_child=lambda: _random.seed(os.urandom(32)))
_bits = _random.getrandbits
# The fields of RFC 4122 version 4: version 4 (bits 76-79) and variant 10 (bits 62-63).
_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_SET = (0x4000 << 64) | (0x8000 << 48)


def new_event_id() -> str:
    return "%032x" % (_bits(128) & _CLEAR | _SET)
