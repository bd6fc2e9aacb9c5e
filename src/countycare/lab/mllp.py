"""The MLLP listener (HL7 v2 over TCP, framing ``<VT> message <FS><CR>``): an asyncio server
that hands each message to :func:`countycare.lab.ingest.ingest` on a worker thread (the
Django ORM is synchronous) and writes back the ACK. One connection's or one message's
failure never stops the listener."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from asgiref.sync import sync_to_async
from django.db import close_old_connections

from countycare.lab import ack
from countycare.lab.ingest import ingest

log = logging.getLogger(__name__)

SB, EB, CR = b"\x0b", b"\x1c", b"\x0d"
MAX_MESSAGE_BYTES = 1024 * 1024  # a lab result is a few KB; more is a fault or an attack
KEPT_OF_OVERSIZED = 64 * 1024
IDLE_TIMEOUT_SECONDS = 600


def _handle(data: bytes, oversized: int = 0) -> bytes:
    close_old_connections()
    encoding = "utf-8"
    try:
        if oversized:
            reason = (
                f"The message is {oversized} bytes; at most {MAX_MESSAGE_BYTES} are accepted. "
                f"The first {len(data)} bytes are kept."
            )
            text = _reject_oversized(data, reason)
        else:
            text = ingest(data).ack
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
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "gb18030"


def _reject_oversized(data: bytes, reason: str) -> str:
    from django.utils import timezone

    from countycare.lab.ingest import decode
    from countycare.lab.models import AckCode, Hl7Message, MessageStatus

    text = ack.build(ack.Envelope(), AckCode.AR, error_code=ack.ERR_DATA_TYPE, reason=reason)
    Hl7Message.objects.create(
        raw=decode(data).replace("\x00", "\ufffd"),
        size=len(data),
        received_at=timezone.now(),
        status=MessageStatus.DEAD_LETTER,
        reason=reason,
        error_code=ack.ERR_DATA_TYPE,
        ack_code=AckCode.AR,
        ack=text,
    )
    return text


handle = sync_to_async(_handle, thread_sensitive=True)


async def _connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    peer = writer.get_extra_info("peername")
    buffer = b""
    in_frame = False
    frame = bytearray()
    total = 0
    try:
        while True:
            chunk = await asyncio.wait_for(reader.read(65536), IDLE_TIMEOUT_SECONDS)
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
                    if len(frame) < MAX_MESSAGE_BYTES:
                        frame += take[: MAX_MESSAGE_BYTES + 1 - len(frame)]
                    break
                take, buffer = buffer[:end], buffer[end + 2 :]
                total += len(take)
                frame += take[: max(0, MAX_MESSAGE_BYTES + 1 - len(frame))]
                in_frame = False
                if total > MAX_MESSAGE_BYTES:
                    answer = await handle(bytes(frame[:KEPT_OF_OVERSIZED]), total)
                else:
                    answer = await handle(bytes(frame))
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


async def serve(host: str = "127.0.0.1", port: int = 2575, *, ready=None) -> None:
    """Listen until cancelled. ``ready(server)`` is called once the socket is bound."""
    server = await asyncio.start_server(_connection, host, port)
    if ready is not None:
        ready(server)
    async with server:
        await server.serve_forever()
