"""The slow start of a first contact: how fast the pace may grow before any 429 has said
where the limit is.

Design: **a window of turns in flight, grown by rounds of answers** (TCP's slow start, in
turns instead of segments). Before any answer, the pace is ``START_RATE`` (a tenth of a
second of it, five turns, at once). The first answer measures the round trip (smoothed as
TCP's SRTT, ``RTT_GAIN``); from then on at most ``window`` turns are in flight (a turn waits
for an answer, not for a time) and the pace is ``window`` per round trip. The window starts
at one and doubles after each round of answers to the round's own turns, none refused: a
round of ``round_answers(window)`` answers, ``START_ANSWERS / window`` and a round trip's
worth at least. The first 429 ends it (a stated limit: straight to the ceiling; a bare one:
the first-refusal rule, what got through), whichever round its turn was granted in; so do
runs that keep under ``START_BINDING`` of the window (their concurrency holds them back, not
the slow start): unpaced from then on. A turn unanswered for ``FLIGHT_TIMEOUT`` leaves the
window. Every run of the account shares it, so two or eight runs start no faster than one.

Why one turn in flight for ``START_ANSWERS`` answers: a server's bucket refused only when
it runs out, and every turn in flight then is refused with the first; one in flight while
a small bucket (20 turns, and its refill meanwhile) runs out is one 429. Once that many
answers came back, the window doubles about once a round trip. What is paid is counted in
round trips, not seconds: the rounds of a quarter second before (50/s, doubled each quarter
second) cost 1.5 s against a server with no limit whatever its answer time.

Measured in the discrete-event simulation (``python -m tests.budget.budget_candidates
--first-contact``: 100/s, the bucket full at the start, limit stated): 429s in the first 5 s
of 2 / 8 runs, seconds for a 1,200-request run at 100/s (burst 20), and what the slow start
costs a run of 8 workers against no limit, in round trips (1 ms and 4 ms answers):

============================  ========  =========  ========  =========  =====  ===========
slow start                    2 ms,     2 ms,      15 ms,    15 ms,     100/s  no limit:
                              burst 20  burst 100  burst 20  burst 100         round trips
                                                                               (1 / 4 ms)
============================  ========  =========  ========  =========  =====  ===========
unpaced                       16 / 64   13 / 57    13 / 62   13 / 53    11.70  0 / 0
rounds of 0.25 s (before)     1 / 1     2 / 2      2 / 2     10 / 10    11.77  ~1100 / 283
window x2 a round trip (TCP)  7 / 7     13 / 27    13 / 13   14 / 25    11.70  4 / 4
32 answers a round            1 / 1     7 / 7      6 / 6     13 / 29    11.82  46 / 46
24 answers / window           1 / 1     14 / 30    14 / 14   11 / 26    11.79  29 / 29
32 answers / window (chosen)  1 / 1     15 / 27    14 / 14   13 / 28    11.82  37 / 37
============================  ========  =========  ========  =========  =====  ===========

The rounds of 0.25 s (the slow start before this one) began at 50/s and doubled each
quarter second. The window's 429s at 15-30 ms answers, and with a bucket of a whole second,
are the price of its speed: it reaches the limit's pace in a few rounds of a round trip or
two each, and a bucket that has not run out by then is met with the window in flight. The
quarter-second rounds drew fewer there, at a cost of about a second everywhere; a constant
round of 32 answers is nearly as polite and costs a quarter more round trips than the chosen
one (46: 46 ms at loopback's 1 ms, over the 50 ms aimed at with any jitter). Not a rate of
``window / round trip`` alone: an answer that comes late (a loaded server) lets a pace send
on, and measured on real processes it drew 5 to 14 429s where the window draws 1 or 2.
"""

from __future__ import annotations

#: the pace before any answer has said more
START_RATE = 50.0
#: growth of the window a round, and the answers of a round at one turn in flight
START_GROWTH = 2.0
START_ANSWERS = 32
#: runs that send less than this share of the window's pace end the slow start unpaced
START_BINDING = 0.6
#: weight of a new answer time in the smoothed round trip (TCP's SRTT, a little quicker:
#: the first answer's time holds a connection's set-up)
RTT_GAIN = 0.25
#: a slow-start turn not answered after this many seconds leaves the window (its run
#: stopped, or its answer was lost): the others are not held for it any longer
FLIGHT_TIMEOUT = 1.0


def round_answers(window: float) -> float:
    """Answers to its own turns a round of ``window`` turns in flight needs before the
    window doubles: ``START_ANSWERS`` at one in flight, fewer as it grows, a round trip's
    worth at least."""
    return max(window, START_ANSWERS / window)
