"""Small combinators over concurrent.futures.Future: chain a step, wait for all, a done value."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")
U = TypeVar("U")


def resolved(value: T) -> Future[T]:
    """A future that already holds `value`."""
    future: Future[T] = Future()
    future.set_result(value)
    return future


def failed(error: BaseException) -> Future[Any]:
    """A future that already holds `error`."""
    future: Future[Any] = Future()
    future.set_exception(error)
    return future


def then(future: Future[T], step: Callable[[T], Future[U]]) -> Future[U]:
    """The future of `step(result)` once `future` succeeds; an error skips `step` and carries on.

    `step` runs in the thread that completes `future` (a stream's or the producer's), so it must
    not block.
    """
    return recover(future, step, None)


def recover(
    future: Future[T],
    step: Callable[[T], Future[U]],
    on_error: Callable[[BaseException], Future[U]] | None,
) -> Future[U]:
    """Like `then`, and `on_error(error)` replaces a failure (None: the failure carries on)."""
    chained: Future[U] = Future()
    chained.set_running_or_notify_cancel()

    def follow(done: Future[T]) -> None:
        error = done.exception()
        try:
            if error is not None:
                if on_error is None:
                    chained.set_exception(error)
                    return
                nxt = on_error(error)
            else:
                nxt = step(done.result())
        except Exception as exc:  # a failing step fails the chain instead of the caller's thread
            chained.set_exception(exc)
            return
        _copy_when_done(nxt, chained)

    future.add_done_callback(follow)
    return chained


def all_of(futures: Sequence[Future[Any]]) -> Future[list[Any]]:
    """Done when every one of `futures` is: their results in order, or the first error seen."""
    combined: Future[list[Any]] = Future()
    combined.set_running_or_notify_cancel()
    if not futures:
        combined.set_result([])
        return combined
    lock = threading.Lock()
    left = len(futures)

    def one_done(_done: Future[Any]) -> None:
        nonlocal left
        with lock:
            left -= 1
            if left:
                return
        errors = [f.exception() for f in futures if f.exception() is not None]
        if errors:
            combined.set_exception(errors[0])
        else:
            combined.set_result([f.result() for f in futures])

    for future in futures:
        future.add_done_callback(one_done)
    return combined


def _copy_when_done(source: Future[T], target: Future[T]) -> None:
    def copy(done: Future[T]) -> None:
        error = done.exception()
        if error is not None:
            target.set_exception(error)
        else:
            target.set_result(done.result())

    source.add_done_callback(copy)
