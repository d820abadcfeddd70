"""A real SMTP server for Herald's tests (aiosmtpd): accepts mail on 127.0.0.1 and
writes each message, as received, to DIR/NNNNNN.eml with its envelope in a header.

Behaviour is steered by files in DIR, so a test can change it while it runs:
  refuse      every transaction is refused with the reply in the file (e.g.
              "451 4.3.0 Try again later") until the file is removed;
  reject-rcpt one address per line refused at RCPT with "550 5.1.1 No such user";
  slow        seconds to wait before accepting each message.
Prints "ready PORT" once listening.
"""

import asyncio
import os
import sys
import threading

from aiosmtpd.controller import Controller

DIR = sys.argv[1]
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 0
lock = threading.Lock()
count = [0]


def read(name):
    try:
        with open(os.path.join(DIR, name)) as f:
            return f.read().strip()
    except FileNotFoundError:
        return None


class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        refused = read("reject-rcpt")
        if refused and address.lower() in {a.strip().lower() for a in refused.splitlines()}:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        reply = read("refuse")
        if reply:
            return reply
        slow = read("slow")
        if slow:
            await asyncio.sleep(float(slow))
        with lock:
            count[0] += 1
            n = count[0]
        path = os.path.join(DIR, "%06d.eml" % n)
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(("X-Envelope-To: %s\r\n" % ",".join(envelope.rcpt_tos)).encode())
            f.write(envelope.original_content or envelope.content)
        os.replace(tmp, path)
        return "250 Message accepted"


async def main():
    controller = Controller(Handler(), hostname="127.0.0.1", port=PORT, data_size_limit=10_000_000)
    controller.start()
    print("ready %d" % controller.port, flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        controller.stop()


if __name__ == "__main__":
    asyncio.run(main())
