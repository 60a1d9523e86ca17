#!/usr/bin/env python3
"""inetd-loop: serve a program inetd-style on 127.0.0.1, for the tests.

Usage: inetd-loop.py PORTFILE LOG PROGRAM [ARG...]

It listens on 127.0.0.1 on a port the kernel picks and writes the port
number to PORTFILE once it accepts connections.  For each connection it
runs PROGRAM with the socket as its standard input and output and LOG
(appended to) as its standard error, as inetd's "nowait" services run.
Each session starts with a line "inetd-loop: session N" in LOG.  It
runs until it gets SIGTERM.
"""

import os
import signal
import socket
import sys


def child(conn, listener, log, argv, n):
    # Python ignores SIGPIPE and the loop SIGCHLD; a server expects the
    # defaults, and an ignored signal stays ignored across exec.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    listener.close()
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, b"inetd-loop: session %d\n" % n)
    os.dup2(fd, 2)
    os.dup2(conn.fileno(), 0)
    os.dup2(conn.fileno(), 1)
    os.close(fd)
    conn.close()
    try:
        os.execv(argv[0], argv)
    except OSError as e:
        os.write(2, b"inetd-loop: %s: %s\n" % (argv[0].encode(),
                                              e.strerror.encode()))
    os._exit(127)


def main():
    if len(sys.argv) < 4:
        sys.stderr.write("usage: inetd-loop.py PORTFILE LOG PROGRAM [ARG...]\n")
        return 64
    portfile, log, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    # Children are reaped by the kernel; the loop never waits for them.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    tmp = portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % listener.getsockname()[1])
    os.rename(tmp, portfile)
    n = 0
    while True:
        conn, _ = listener.accept()
        n += 1
        if os.fork() == 0:
            child(conn, listener, log, argv, n)
        conn.close()


if __name__ == "__main__":
    sys.exit(main())
