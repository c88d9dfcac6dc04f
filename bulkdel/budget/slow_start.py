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

The candidates (rounds of a quarter second, TCP's window doubled each round trip, rounds of a
fixed number of answers) were measured in the discrete-event simulation (``python -m
tests.budget.budget_candidates --first-contact``); their 429s and costs are compared in
``benchmarks/PACE_RESULTS.md`` ("The slow start's design"). Not a rate of ``window / round
trip`` alone: an answer that comes late (a loaded server) lets a pace send on, where a window
waits for it.
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
