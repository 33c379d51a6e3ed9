"""theory.fast.lanes: numbers handed out once, turns taken in order, errors raised and no lane
left waiting."""

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from threadpoolctl import threadpool_limits

from theory.fast.lanes import Board, LaneFailed, blas_threads, run_lanes


def test_claims_hand_out_each_number_once_until_the_limit_or_close():
    board = Board()
    taken: list[int] = []

    def lane():
        while (k := board.claim("chunk", 500)) is not None:
            taken.append(k)

    with ThreadPoolExecutor(3) as pool:
        run_lanes(pool, board, [lane] * 4)
    assert sorted(taken) == list(range(500))
    assert board.claim("other", 2) == 0
    assert board.close("other") == 1
    assert board.claim("other", 2) is None


def test_turns_are_taken_in_order_whatever_the_lane_and_its_speed():
    board = Board()
    order: list[int] = []
    jobs = list(range(40))
    random.Random(3).shuffle(jobs)               # turns claimed in a scrambled order

    def lane(ks):
        for k in ks:
            time.sleep(random.Random(k).random() * 1e-3)
            with board.turn("sum", k):
                order.append(k)

    with ThreadPoolExecutor(1) as pool:
        run_lanes(pool, board, [lambda: lane(sorted(jobs[:20])), lambda: lane(sorted(jobs[20:]))])
    assert order == list(range(40))


def test_publish_get_and_counts_hand_values_between_lanes():
    board = Board()
    seen = []

    def consumer():
        board.wait_count("drawn", 3)
        seen.append(board.get("fit"))

    def producer():
        for _ in range(3):
            board.bump("drawn")
        board.publish("fit", 42)

    with ThreadPoolExecutor(1) as pool:
        run_lanes(pool, board, [consumer, producer])
    assert seen == [42]


@pytest.mark.parametrize("failing", [0, 1])
def test_the_first_real_error_is_raised_and_no_lane_is_left_waiting(failing):
    """The lane that fails may be this thread's or a worker's; the others wait for something
    that never comes and must be released (else the test hangs)."""
    board = Board()

    def waits_forever():
        board.get("never published")

    def fails():
        time.sleep(0.01)
        raise KeyError("the draw failed")

    lanes = [waits_forever, waits_forever, waits_forever]
    lanes[failing] = fails
    done = threading.Event()
    errors = []

    def run():
        with ThreadPoolExecutor(2) as pool:
            try:
                run_lanes(pool, board, lanes)
            except BaseException as error:       # noqa: BLE001 (inspected below)
                errors.append(error)
        done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(10), "a lane was left waiting"
    assert len(errors) == 1 and isinstance(errors[0], KeyError)
    with pytest.raises(LaneFailed):
        board.wait_count("anything", 1)


def test_blas_threads_follows_the_limit():
    with threadpool_limits(limits=1, user_api="blas"):
        assert blas_threads() == 1
    with threadpool_limits(limits=2, user_api="blas"):
        assert blas_threads() in (1, 2)          # 1 only where BLAS was built for one thread


def test_a_lane_that_never_waits_stops_at_its_next_claim_after_a_failure():
    board = Board()
    claimed = []

    def busy():
        while (k := board.claim("chunk", 10**9)) is not None:
            claimed.append(k)
            time.sleep(1e-4)

    def fails():
        time.sleep(0.01)
        raise ValueError("bad chunk")

    with ThreadPoolExecutor(1) as pool, pytest.raises(ValueError, match="bad chunk"):
        run_lanes(pool, board, [fails, busy])
    assert 0 < len(claimed) < 10**6
