# popfetch_convert.py: what fetchmailrc2popfetch, mpoprc2popfetch and
# getmail2popfetch-state share: writing popfetch.conf values and account
# sections, telling the user what was not carried over, and importing
# UIDs into popfetch's state files.  Python 3, standard library only.
# See contrib/README.md.

import os
import re
import sys
import tempfile
import time

# RFC 1939 §7: a UID is 1 to 70 characters from 0x21 to 0x7E.
UID_RE = re.compile(r"[!-~]{1,70}\Z")
# popfetch.conf(5): account names.
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}\Z")
STATE_MAGIC = "popfetch-uidl 1"

EX_USAGE = 64


class ConvertError(Exception):
    """A fatal problem with the input, reported as PROG: MESSAGE."""


def uids(n):
    return "1 UID" if n == 1 else "%d UIDs" % n


def quote(s):
    """A value for popfetch.conf in single quotes, where only \\' and \\\\
    are special: nothing in it is expanded."""
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def comment_text(s):
    """Text from the input, safe to put in a comment: one line."""
    return re.sub(r"[\x00-\x1f\x7f]", "?", s)


def default_state_dir():
    """The state directory popfetch itself uses (cli/run.c)."""
    xdg = os.environ.get("XDG_STATE_HOME", "")
    if xdg.startswith("/"):
        return os.path.join(xdg, "popfetch")
    home = os.environ.get("HOME", "")
    if not home:
        raise ConvertError("neither XDG_STATE_HOME nor HOME is set")
    return os.path.join(home, ".local/state/popfetch")


def import_time():
    """The time recorded for imported UIDs; SOURCE_DATE_EPOCH makes the
    output reproducible."""
    v = os.environ.get("SOURCE_DATE_EPOCH", "")
    return int(v) if v.isdigit() else int(time.time())


class Reporter:
    """Messages on standard error, each once, and the exit status."""

    def __init__(self, prog):
        self.prog = prog
        self.status = 0
        self.seen = set()

    def warn(self, msg):
        if msg in self.seen:
            return
        self.seen.add(msg)
        sys.stderr.write("%s: %s\n" % (self.prog, msg))

    def error(self, msg):
        self.warn(msg)
        self.status = 1


class Account:
    """One popfetch account section: keys in the order written, each with
    the comments that go above it, and comments for the top."""

    def __init__(self, name, origin):
        self.name = name
        self.origin = origin
        self.head = []
        self.keys = []
        self.rules = []  # (rule name, [(key, value), ...])

    def note(self, text):
        self.head.append(text)

    def set(self, key, value, *comments):
        self.keys.append((key, value, list(comments)))

    def get(self, key):
        for k, v, _ in self.keys:
            if k == key:
                return v
        return None

    def text(self):
        out = ["", "# %s" % self.origin]
        for r, conds in self.rules:
            out.append('rule "%s" {' % r)
            out.extend("\t%s = %s" % kv for kv in conds)
            out.append("}")
        out.append('account "%s" {' % self.name)
        out.extend("\t# " + line for c in self.head for line in c.split("\n"))
        for k, v, comments in self.keys:
            out.extend("\t# " + line for c in comments for line in c.split("\n"))
            out.append("\t%s = %s" % (k, v))
        out.append("}")
        return "\n".join(out) + "\n"


class Names:
    """Account names popfetch accepts, unique."""

    def __init__(self):
        self.used = set()

    def make(self, s):
        s = re.sub(r"[^A-Za-z0-9._@+-]", "-", s)
        s = re.sub(r"^[^A-Za-z0-9]+", "", s)[:64] or "account"
        base, n = s, 2
        while s.lower() in self.used:
            suffix = "-%d" % n
            s = base[: 64 - len(suffix)] + suffix
            n += 1
        self.used.add(s.lower())
        return s


def size_rules(acct, kill, skip, kill_first=True):
    """Rules for messages larger than a size: kill (discard: deleted if
    the account deletes) and skip (left on the server).  Sizes in bytes,
    None when unset."""
    made = []
    order = [("discard", kill), ("skip", skip)]
    if not kill_first:
        order.reverse()
    for action, size in order:
        if size is None:
            continue
        name = "%s-larger-%s" % (acct.name[:40], action)
        acct.rules.append((name, [("larger", str(size)), (action, "yes")]))
        made.append('"%s"' % name)
    return made


def write_config(header, accounts, any_rules):
    """The configuration text.  When some account has size rules, every
    account lists its own (an account without a rules key would apply
    all of them)."""
    parts = [header]
    for a in accounts:
        if any_rules:
            names = ['"%s"' % r for r, _ in a.rules]
            a.set("rules", "{%s}" % ", ".join(names))
        parts.append(a.text())
    return "".join(parts)


def output_config(text, out, force):
    """To stdout, or to a new file of mode 600."""
    # Bytes that were not UTF-8 in the input go out as they came.
    data = text.encode("utf-8", "surrogateescape")
    if not out:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    if os.path.lexists(out) and not force:
        raise ConvertError("%s exists (use -f to replace it)" % out)
    d = os.path.dirname(out) or "."
    try:
        fd, tmp = tempfile.mkstemp(prefix=".popfetch-conf.", dir=d)
    except OSError as e:
        raise ConvertError("cannot write %s: %s" % (out, e.strerror))
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o600)
            f.write(data)
        os.replace(tmp, out)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise ConvertError("cannot write %s: %s" % (out, e.strerror))


class StateSet:
    """The UIDs one account imports, in the order first met."""

    def __init__(self):
        self.uids = []
        self.have = set()
        self.bad = 0

    def add(self, uid):
        if not UID_RE.match(uid):
            self.bad += 1
        elif uid not in self.have:
            self.have.add(uid)
            self.uids.append(uid)


def install_state(rep, state_dir, account, records):
    """Write records [(uid, time)] into STATE_DIR/ACCOUNT.uidl: a new file
    appears whole (linked, never replacing); an existing journal of
    popfetch's gets the UIDs it lacks appended.  Sizes are "*" (any):
    these tools store none."""
    path = os.path.join(state_dir, account + ".uidl")
    try:
        os.makedirs(state_dir, mode=0o700, exist_ok=True)
        os.chmod(state_dir, 0o700)
    except OSError as e:
        raise ConvertError("cannot create %s: %s" % (state_dir, e.strerror))
    lines = ["%s\t*\t%d\t%d\t-\n" % (u, t, t) for u, t in records]
    if os.path.lexists(path):
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise ConvertError("cannot read %s: %s" % (path, e.strerror))
        if not data.startswith((STATE_MAGIC + "\n").encode()):
            rep.error("%s: not a popfetch state file; left alone, nothing "
                      "imported for it" % path)
            return
        if not data.endswith(b"\n"):
            rep.error("%s: ends in a partial line; run popfetch once, then "
                      "import again" % path)
            return
        have = set()
        for line in data.decode("latin-1").split("\n")[1:]:
            f = line.split("\t")
            if len(f) >= 2:
                have.add((f[0], f[1]))
        new = [ln for (u, _), ln in zip(records, lines) if (u, "*") not in have]
        try:
            with open(path, "a") as f:
                f.write("".join(new))
        except OSError as e:
            raise ConvertError("cannot append to %s: %s" % (path, e.strerror))
        rep.warn("%s: %s appended" % (path, uids(len(new))))
        return
    tmp = os.path.join(state_dir, ".%s.%d" % (account + ".uidl", os.getpid()))
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(STATE_MAGIC + "\n" + "".join(lines))
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        raise ConvertError("cannot write %s: %s" % (tmp, e.strerror))
    try:
        os.link(tmp, path)
    except OSError as e:
        raise ConvertError("cannot create %s: %s" % (path, e.strerror))
    finally:
        os.unlink(tmp)
    rep.warn("%s: %s written" % (path, uids(len(lines))))


def main_wrapper(prog, fn):
    """Run fn(rep), mapping ConvertError to a message and exit status 1."""
    rep = Reporter(prog)
    try:
        fn(rep)
    except ConvertError as e:
        rep.error(str(e))
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(rep.status)
