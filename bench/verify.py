#!/usr/bin/env python3
"""Check that a client's Maildir holds exactly the benchmark's messages.

usage: verify.py ORIG_DIR MAILDIR [ORIG_DIR MAILDIR ...]
       verify.py --empty MAILDIR

Every file of ORIG_DIR must be in MAILDIR/new or MAILDIR/cur exactly once,
byte for byte, and nothing else may be there; MAILDIR/tmp must be empty.
Two differences are forgiven, since they are what a client is meant to do:
CRLF stored as LF (the originals hold no CR), and trace fields a client
adds to the header (its own Received:, Delivered-To: or Return-Path:,
at the top or after the server's).  The copy is matched to its original
by Message-ID; the original's header fields must all be in the copy, in
order and unchanged, any other field of the copy must be one of those
trace fields, and the body must be identical.  So a client that drops or
changes a single byte of the message still fails.

With --empty, MAILDIR must hold no message at all (a run that had
nothing new to fetch).  Several pairs are checked in one run (the
many-accounts profile: a Maildir per account).  Exit status 0 when every
Maildir is right, 1 when one is not, with the reasons on stderr.
"""

import os
import re
import sys

# Fields a delivery agent prepends (RFC 5321 §4.4, RFC 9228).
PREPENDED = re.compile(
    rb"(received|delivered-to|return-path|x-original-to|x-envelope-to)"
    rb"\s*:",
    re.IGNORECASE,
)


def split(data):
    """(header fields, body) of a message; each field with its folded
    lines (RFC 5322 §2.2.3)."""
    fields = []
    pos = 0
    while pos < len(data):
        nl = data.find(b"\n", pos)
        if nl == -1:
            nl = len(data) - 1
        line = data[pos : nl + 1]
        if line == b"\n":
            return fields, data[nl + 1 :]
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line
        else:
            fields.append(line)
        pos = nl + 1
    return fields, b""


def message_id(fields):
    for f in fields:
        if f[:11].lower() == b"message-id:":
            return f[11:].strip()
    return None


def same_message(orig, copy):
    """Is copy the original with trace fields added to its header?"""
    ofields, obody = split(orig)
    cfields, cbody = split(copy)
    if obody != cbody:
        return False
    j = 0
    for f in cfields:
        if j < len(ofields) and f == ofields[j]:
            j += 1
        elif not PREPENDED.match(f):
            return False
    return j == len(ofields)


def files(maildir, sub):
    d = os.path.join(maildir, sub)
    if not os.path.isdir(d):
        return []
    return [os.path.join(d, f) for f in sorted(os.listdir(d))]


def main(argv):
    if len(argv) == 3 and argv[1] == "--empty":
        pairs = [(None, argv[2])]
    elif len(argv) >= 3 and len(argv) % 2 == 1:
        pairs = list(zip(argv[1::2], argv[2::2]))
    else:
        sys.stderr.write(__doc__)
        return 2
    rc = 0
    for orig, maildir in pairs:
        problems = check(orig, maildir)
        for p in problems:
            sys.stderr.write("verify: %s: %s\n" % (maildir, p))
        rc |= 1 if problems else 0
    return rc


def check(orig, maildir):
    problems = []
    left = files(maildir, "tmp")
    if left:
        problems.append("%d files left in tmp/" % len(left))
    got = files(maildir, "new") + files(maildir, "cur")

    if orig is None:
        if got:
            problems.append("%d messages, expected none" % len(got))
    else:
        want = {}
        for f in sorted(os.listdir(orig)):
            with open(os.path.join(orig, f), "rb") as fp:
                data = fp.read()
            want.setdefault(message_id(split(data)[0]), []).append(data)
        nwant = sum(len(v) for v in want.values())
        bad = 0
        for path in got:
            with open(path, "rb") as fp:
                data = fp.read().replace(b"\r\n", b"\n")
            cands = want.get(message_id(split(data)[0]), [])
            for i, o in enumerate(cands):
                if o == data or same_message(o, data):
                    del cands[i]
                    break
            else:
                bad += 1
                if bad <= 3:
                    problems.append(
                        "%s matches no original (or a duplicate)"
                        % os.path.basename(path)
                    )
        missing = sum(len(v) for v in want.values())
        if bad > 3:
            problems.append("%d more files match no original" % (bad - 3))
        if missing:
            problems.append(
                "%d of %d messages missing, %d files in the Maildir"
                % (missing, nwant, len(got))
            )

    return problems


if __name__ == "__main__":
    sys.exit(main(sys.argv))
