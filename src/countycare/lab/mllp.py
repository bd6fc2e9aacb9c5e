"""The MLLP listener (HL7 v2 over TCP, framing ``<VT> message <FS><CR>``, HL7 v2 appendix C):
an asyncio server that hands each message to :func:`countycare.lab.ingest.ingest` on a pool
of worker threads (the Django ORM is synchronous; each thread keeps its own database
connection) and writes back the ACK, in the order the messages came on that connection.

One connection's or one message's failure never stops the listener: a frame that cannot be
handled still gets an AE, bytes outside a frame are skipped, a message larger than
``ingest.MAX_MESSAGE_BYTES`` is answered AR and kept whole (up to ``KEEP_WHOLE_BYTES``; of a
larger one the beginning), a connection idle for ``IDLE_TIMEOUT_SECONDS`` is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from concurrent.futures import ThreadPoolExecutor, wait

from django.db import close_old_connections, connection, connections

from countycare.lab import ack
from countycare.lab.ingest import ingest

log = logging.getLogger(__name__)

SB, EB, CR = b"\x0b", b"\x1c", b"\x0d"
KEEP_WHOLE_BYTES = 32 * 1024 * 1024
IDLE_TIMEOUT_SECONDS = 600
READ_CHUNK = 256 * 1024


def default_workers() -> int:
    """Worker threads: several on PostgreSQL; one on SQLite, which has one writer anyway."""
    return 1 if connection.vendor == "sqlite" else 4


def handle(data: bytes, total: int | None = None) -> bytes:
    """The framed ACK for one message (runs on a worker thread)."""
    close_old_connections()
    encoding = "utf-8"
    try:
        text = ingest(data, total_size=total).ack
        encoding = _encoding_of(data)  # answer in the sender's character set
    except Exception:  # never let one message take the listener down
        log.exception("HL7 message could not be handled")
        text = ack.build(
            ack.Envelope(), "AE", error_code=ack.ERR_INTERNAL, reason="Internal error; resend."
        )
    finally:
        close_old_connections()
    return SB + text.encode(encoding, errors="replace") + EB + CR


def _encoding_of(data: bytes) -> str:
    try:
        data[:65536].decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is still UTF-8.
        return "utf-8" if exc.start > 65530 else "gb18030"


class Listener:
    """One listening socket and its worker pool."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or default_workers()
        self.executor = ThreadPoolExecutor(self.workers, thread_name_prefix="hl7")

    async def _answer(self, data: bytes, total: int | None = None) -> bytes:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self.executor, handle, data, total)
        except Exception:
            log.exception("HL7 worker failed")
            text = ack.build(ack.Envelope(), "AE", error_code=ack.ERR_INTERNAL,
                             reason="Internal error; resend.")  # fmt: skip
            return SB + text.encode() + EB + CR

    async def connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        peer = writer.get_extra_info("peername")
        buffer = b""
        in_frame = False
        frame = bytearray()
        total = 0
        try:
            while True:
                chunk = await asyncio.wait_for(reader.read(READ_CHUNK), IDLE_TIMEOUT_SECONDS)
                if not chunk:
                    break
                buffer += chunk
                while buffer:
                    if not in_frame:
                        start = buffer.find(SB)
                        if start < 0:
                            buffer = b""  # noise between frames
                            break
                        buffer = buffer[start + 1 :]
                        in_frame, frame, total = True, bytearray(), 0
                    end = buffer.find(EB + CR)
                    if end < 0:
                        # Keep one byte back: it may be an FS whose CR has not arrived yet.
                        take, buffer = buffer[:-1], buffer[-1:]
                        total += len(take)
                        if len(frame) < KEEP_WHOLE_BYTES:
                            frame += take[: KEEP_WHOLE_BYTES - len(frame)]
                        break
                    take, buffer = buffer[:end], buffer[end + 2 :]
                    total += len(take)
                    if len(frame) < KEEP_WHOLE_BYTES:
                        frame += take[: KEEP_WHOLE_BYTES - len(frame)]
                    in_frame = False
                    data, frame = bytes(frame), bytearray()
                    answer = await self._answer(data, total if total > len(data) else None)
                    writer.write(answer)
                    await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        except Exception:
            log.exception("MLLP connection from %s failed", peer)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    def close(self) -> None:
        """Finish the messages in hand and close each worker's database connection (a
        barrier makes every worker thread take one of the closing tasks)."""
        barrier = threading.Barrier(self.workers, timeout=5)

        def close_connection() -> None:
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait()
            connections.close_all()

        futures = [self.executor.submit(close_connection) for _ in range(self.workers)]
        wait(futures, timeout=15)
        self.executor.shutdown(wait=True, cancel_futures=False)


async def serve(
    host: str = "127.0.0.1",
    port: int = 2575,
    *,
    ready=None,
    workers=None,
    reuse_port: bool = False,
) -> None:
    """Listen until cancelled. ``ready(server)`` is called once the socket is bound.
    ``reuse_port``: share the port with the listener's other processes (SO_REUSEPORT; the
    kernel spreads new connections over them)."""
    listener = Listener(workers)
    server = await asyncio.start_server(
        listener.connection, host, port, limit=READ_CHUNK, reuse_port=reuse_port or None
    )
    if ready is not None:
        ready(server)
    try:
        async with server:
            await server.serve_forever()
    finally:
        await asyncio.get_running_loop().run_in_executor(None, listener.close)


def _child(host: str, port: int, workers: int | None, started) -> None:
    import signal

    async def main() -> None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, asyncio.current_task().cancel)
        await serve(host, port, ready=lambda _s: started.set(), workers=workers, reuse_port=True)

    with contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
        asyncio.run(main())


def run_processes(host: str, port: int, processes: int, *, workers=None, ready=None) -> None:
    """Run ``processes`` listener processes on one port (Linux SO_REUSEPORT) and keep them
    running: one that dies is started again. Returns on SIGTERM or Ctrl-C, after stopping
    them. Each process has its own worker threads and database connections, so the
    listener uses every CPU rather than one interpreter's."""
    import multiprocessing as mp
    import signal

    connections.close_all()  # nothing of the parent's connections into the children
    context = mp.get_context("fork")
    stopping = threading.Event()

    def start() -> tuple:
        started = context.Event()
        proc = context.Process(target=_child, args=(host, port, workers, started), daemon=True)
        proc.start()
        return proc, started

    children = [start() for _ in range(processes)]
    for proc, started in children:
        if not started.wait(30):
            for p, _e in children:
                p.terminate()
            raise RuntimeError(f"listener process {proc.pid} did not start")
    if ready is not None:
        ready([p.pid for p, _e in children])

    def stop(*_args) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping.wait(1.0):
            for i, (proc, _started) in enumerate(children):
                if not proc.is_alive():
                    log.error("listener process %s ended (%s); starting another", proc.pid,
                              proc.exitcode)  # fmt: skip
                    children[i] = start()
    except KeyboardInterrupt:
        pass
    finally:
        for proc, _started in children:
            proc.terminate()
        for proc, _started in children:
            proc.join(30)
