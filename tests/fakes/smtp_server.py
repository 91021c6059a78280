"""A fake SMTP server: a real asyncio server on 127.0.0.1 that accepts every message (after
AUTH PLAIN with the expected login, when one is set) and keeps it for the test to read.

It speaks the part of RFC 5321 that smtplib uses: EHLO/HELO, AUTH PLAIN, MAIL, RCPT, DATA
(with dot-unstuffing), RSET, NOOP and QUIT. It offers no STARTTLS.
"""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
from dataclasses import dataclass, field
from email.message import EmailMessage

from tests.fakes.server import FakeService


@dataclass
class ReceivedMail:
    """One message as the server received it."""

    mail_from: str
    rcpt_to: list[str]
    data: bytes
    login: str | None

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class _Session:
    login: str | None = None
    mail_from: str | None = None
    rcpt_to: list[str] = field(default_factory=list)


class FakeSMTPServer(FakeService):
    def __init__(self, username: str | None = None, password: str | None = None) -> None:
        self.username = username
        self.password = password
        self.received: list[ReceivedMail] = []
        self.host = "127.0.0.1"
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedMail]:
        """The messages received, once there are at least `count` of them."""
        async with asyncio.timeout(timeout):
            while len(self.received) < count:
                await asyncio.sleep(0.01)
        return self.received

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = _Session()
        writer.write(b"220 fake.smtp ESMTP ready\r\n")
        try:
            while line := await reader.readline():
                command = line.decode().rstrip("\r\n")
                reply = await self._command(command, session, reader, writer)
                writer.write(reply.encode() + b"\r\n")
                await writer.drain()
                if reply.startswith("221"):
                    break
        finally:
            writer.close()

    async def _command(
        self,
        line: str,
        session: _Session,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> str:
        verb, _, argument = line.partition(" ")
        verb = verb.upper()
        if verb == "EHLO":
            return "250-fake.smtp\r\n250-AUTH PLAIN\r\n250 8BITMIME"
        if verb in ("HELO", "NOOP"):
            return "250 OK"
        if verb == "AUTH":
            return self._auth(argument, session)
        if self.username is not None and session.login is None and verb in ("MAIL", "RCPT"):
            return "530 Authentication required"
        if verb == "MAIL":
            session.mail_from, session.rcpt_to = _address(argument), []
            return "250 OK"
        if verb == "RCPT":
            session.rcpt_to.append(_address(argument))
            return "250 OK"
        if verb == "DATA":
            return await self._data(session, reader, writer)
        if verb == "RSET":
            session.mail_from, session.rcpt_to = None, []
            return "250 OK"
        if verb == "QUIT":
            return "221 Bye"
        return "502 Command not implemented"

    def _auth(self, argument: str, session: _Session) -> str:
        mechanism, _, initial = argument.partition(" ")
        if mechanism.upper() != "PLAIN" or not initial:
            return "504 Unrecognized authentication type"
        _, user, password = base64.b64decode(initial).decode().split("\0")
        if (user, password) != (self.username, self.password):
            return "535 Authentication credentials invalid"
        session.login = user
        return "235 Authentication successful"

    async def _data(
        self, session: _Session, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> str:
        if session.mail_from is None or not session.rcpt_to:
            return "503 Bad sequence of commands"
        writer.write(b"354 End data with <CR><LF>.<CR><LF>\r\n")
        await writer.drain()
        lines: list[bytes] = []
        while (line := await reader.readline()) not in (b".\r\n", b""):
            lines.append(line[1:] if line.startswith(b"..") else line)
        self.received.append(
            ReceivedMail(session.mail_from, list(session.rcpt_to), b"".join(lines), session.login)
        )
        session.mail_from, session.rcpt_to = None, []
        return "250 OK: queued"


def _address(argument: str) -> str:
    """The address in `FROM:<a@b>` or `TO:<a@b>` (parameters after it ignored)."""
    return argument.partition(":")[2].strip().split(" ")[0].strip("<>")
