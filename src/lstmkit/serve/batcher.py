"""Micro-batching: concurrent requests gathered into one model call, run on one worker thread.

A request's items (texts, clips, histories) wait in an asyncio queue. The gathering loop takes the
first request, everything already queued behind it and whatever arrives within `max_wait` seconds,
up to `max_batch` items, and runs the model once per group of requests that share a key (the decoding
settings: a beam width, say), in the worker thread. While that call runs, new requests queue up, so
under load batches grow by themselves; a lone request waits at most `max_wait`.

The model is only ever called from the one worker thread, one call at a time: predictors keep no
locks of their own and torch modules are not safe to run from two threads at once.
"""
import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import torch

from ..errors import LstmkitError

log = logging.getLogger("lstmkit.serve")


@dataclass
class _Pending:
    key: object
    items: list
    future: asyncio.Future = field(repr=False)


class Batcher:
    """Run `run(key, items) -> results` (one result per item) over batches of concurrent requests.

    Args:
        run: the model call; it sees the items of every gathered request with the same key, in order.
        max_batch: most items in one call (a larger single request still runs, alone).
        max_wait: seconds the loop waits for more requests after the first (0: only those queued).

    Example:
        >>> async def demo():
        ...     batcher = Batcher(lambda key, items: [len(t) for t in items], max_batch=8, max_wait=0.002)
        ...     batcher.start()
        ...     out = await asyncio.gather(batcher.submit(None, ["ab"]), batcher.submit(None, ["c", "de"]))
        ...     await batcher.stop()
        ...     return out
        >>> asyncio.run(demo())
        [[2], [1, 2]]
    """

    def __init__(self, run, *, max_batch: int = 64, max_wait: float = 0.002):
        self.run, self.max_batch, self.max_wait = run, max_batch, max_wait
        self.calls = self.items = 0  # model calls made and items run: the mean batch is their ratio
        self._queue = self._task = self._worker = None

    def start(self) -> None:
        """Start the gathering loop and the worker thread (inside the running event loop)."""
        self._queue = asyncio.Queue()
        # torch's thread count is per thread for OpenMP and MKL: set it in the worker as it is here,
        # or BLAS called directly (the compiled kernel) runs there on every core (measured 4x slower
        # on a loaded machine)
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lstmkit-model",
                                          initializer=torch.set_num_threads, initargs=(torch.get_num_threads(),))
        self._task = asyncio.get_running_loop().create_task(self._gather_forever())

    async def stop(self) -> None:
        """Stop gathering, fail what still waits, and release the worker thread."""
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        while not self._queue.empty():
            pending = self._queue.get_nowait()
            if not pending.future.done():
                pending.future.set_exception(RuntimeError("the server is shutting down"))
        self._worker.shutdown(wait=True)

    async def submit(self, key, items: list) -> list:
        """Queue one request's items; returns their results once the batch holding them ran.

        Raises:
            LstmkitError: the model refused this request's input (other requests are unaffected).
        """
        future = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(key, list(items), future))
        return await future

    async def _gather_forever(self):
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            size, deadline = len(batch[0].items), loop.time() + self.max_wait
            while size < self.max_batch:
                try:
                    pending = self._queue.get_nowait()
                except asyncio.QueueEmpty:
                    if loop.time() >= deadline:
                        break
                    try:
                        pending = await asyncio.wait_for(self._queue.get(), deadline - loop.time())
                    except asyncio.TimeoutError:  # not the built-in TimeoutError before Python 3.11
                        break
                batch.append(pending)
                size += len(pending.items)
            for key in dict.fromkeys(p.key for p in batch):  # keys in arrival order
                await self._run_group([p for p in batch if p.key == key])

    async def _run_group(self, group: list[_Pending]):
        """One model call for the group; when the model refuses the batch, each request alone, so
        that only the request at fault gets the error."""
        group = [p for p in group if not p.future.done()]  # a client that left is not waited for
        if not group:
            return
        try:
            results = await self._call(group[0].key, [item for p in group for item in p.items])
        except LstmkitError as e:
            if len(group) == 1:
                if not group[0].future.done():  # its client may have left while the model ran
                    group[0].future.set_exception(e)
                return
            for pending in group:
                await self._run_group([pending])
            return
        except Exception as e:  # a bug: every waiting request answers 500 and the server logs it
            log.exception("model call failed")
            for p in group:
                if not p.future.done():
                    p.future.set_exception(e)
            return
        start = 0
        for p in group:
            if not p.future.done():
                p.future.set_result(results[start:start + len(p.items)])
            start += len(p.items)

    async def _call(self, key, items):
        results = await asyncio.get_running_loop().run_in_executor(self._worker, self.run, key, items)
        if len(results) != len(items):
            raise RuntimeError(f"model call returned {len(results)} results for {len(items)} items")
        self.calls, self.items = self.calls + 1, self.items + len(items)
        return list(results)
