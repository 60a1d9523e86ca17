#!/usr/bin/env python3
"""Differential check of the converters against the programs they
convert from: what fetchmail --configdump or mpop --pretend says a file
means, and what the converter made of it, must agree on each account's
host, port, TLS mode, user, delete policy and size limits, and on which
accounts there are.

Usage: convert-diff.py fetchmail|mpop CONVERTER RCFILE

Run with a private HOME.  RCFILE is read from a copy of mode 600 (both
programs insist); for mpop, every passwordeval becomes "echo stub",
since --pretend runs it.  Exit 0 when they agree, 1 with the
differences on stderr, 2 when the reference program refuses the file
(the converter must refuse it too: checked here)."""

import os
import re
import shutil
import subprocess
import sys
import tempfile


def popfetch_accounts(text):
    """The converter's output: {origin: {key: value}}, with "rules" the
    list of (larger, action) of the account's rules, in order."""
    rules, accts = {}, {}
    origin, cur, sect = None, None, None
    for line in text.split("\n"):
        s = line.strip()
        m = re.match(r"# (fetchmail: poll .*|mpop account .*)\Z", s)
        if m and cur is None:
            origin = m.group(1)
            continue
        m = re.match(r'(account|rule) "([^"]+)" \{\Z', s)
        if m:
            sect, cur = m.group(1), {}
            if sect == "account":
                accts[origin] = cur
                cur["_name"] = m.group(2)
            else:
                rules[m.group(2)] = cur
            continue
        if s == "}":
            cur = None
            continue
        if cur is None or not s or s.startswith("#"):
            continue
        k, _, v = s.partition(" = ")
        if v.startswith("'"):
            v = re.sub(r"\\(.)", r"\1", v[1:-1])
        cur[k] = v
    for a in accts.values():
        names = re.findall(r'"([^"]+)"', a.get("rules", ""))
        a["rules"] = []
        for n in names:
            r = rules[n]
            act = "discard" if r.get("discard") == "yes" else "skip"
            a["rules"].append((int(r["larger"]), act))
    return accts


def converted(kind, conv, rc):
    p = subprocess.run([conv, "-n", "-f", rc], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True)
    return p.returncode, p.stdout, p.stderr


def fetchmail_reference(rc):
    p = subprocess.run(["fetchmail", "-f", rc, "--configdump"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True)
    if p.returncode != 0 or "fetchmailrc = {" not in p.stdout:
        return None, p.stderr
    # The dump is Python, made for fetchmailconf to execute.
    env = {}
    try:
        exec(p.stdout, env)  # noqa: S102 - fetchmail's own output
    except SyntaxError:
        # fetchmail dumps a defaults entry with two users as broken
        # Python; running, it refuses such a file.
        return None, "unreadable --configdump"
    want = {}
    seen = set()
    for srv in env["fetchmailrc"]["servers"]:
        proto = srv["protocol"].lower()
        for u in srv["users"]:
            if proto not in ("pop3", "apop", "auto"):
                continue
            ssl = bool(u["ssl"])
            host = srv["via"] or srv["pollname"]
            port = int({"pop3": "110", "pop3s": "995"}.get(
                srv["service"], srv["service"] or (995 if ssl else 110)))
            if (host.lower(), port, u["remote"]) in seen:
                continue
            seen.add((host.lower(), port, u["remote"]))
            # fetchmail(1), --sslproto and --sslcertck: ssl is implicit
            # TLS; sslproto '' no TLS; otherwise STLS, required unless
            # neither sslproto nor sslcertck says so.
            if ssl:
                tls = "on"
            elif u["sslproto"] == "":
                tls = "off"
            else:
                tls = "starttls"
            keep = bool(u["keep"])
            a = {"host": host, "port": str(port), "tls": tls,
                 "user": u["remote"], "delete": "keep" if keep else "each",
                 "rules": []}
            if keep and u["flush"]:
                a["keep_days"] = "0"
            if u["limit"]:
                a["rules"] = [(u["limit"], "discard" if u["limitflush"]
                               else "skip")]
            want['fetchmail: poll "%s", user "%s"'
                 % (srv["pollname"], u["remote"])] = a
    return want, ""


def mpop_names(rc):
    names = []
    with open(rc) as f:
        for line in f:
            m = re.match(r"\s*account\s+([^:]*?)\s*(:.*)?$", line)
            if m:
                name = m.group(1)
                if len(name) >= 2 and name[0] == name[-1] == '"':
                    name = name[1:-1]
                names.append(name)
    return names


def mpop_reference(rc):
    want, seen = {}, set()
    for name in mpop_names(rc):
        p = subprocess.run(["mpop", "-C", rc, "--pretend", name],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True)
        if p.returncode != 0:
            if re.search(r"line [0-9]+:", p.stderr):
                return None, p.stderr
            # An account mpop cannot fetch (no host, no delivery):
            # the converter must leave it out.
            continue
        kv = dict(re.findall(r"^([a-z_ ]+) = (.*)$", p.stdout, re.M))
        if kv["user"] == "(not set)":
            continue  # popfetch needs a user: left out
        tls = ("off" if kv["tls"] == "off" else
               "starttls" if kv["tls_starttls"] == "on" else "on")
        key = (kv["host"].lower(), kv["port"], kv["user"])
        if key in seen:
            continue
        seen.add(key)
        rules = []
        if kv["killsize"] != "off":
            rules.append((int(kv["killsize"]), "discard"))
        if kv["skipsize"] != "off":
            rules.append((int(kv["skipsize"]), "skip"))
        want['mpop account "%s"' % name] = {
            "host": kv["host"], "port": kv["port"], "tls": tls,
            "user": kv["user"],
            "delete": "keep" if kv["keep"] == "on" else "each",
            "rules": rules}
    return want, ""


FIELDS = ("host", "port", "tls", "user", "delete", "keep_days", "rules")


def main():
    kind, conv, src = sys.argv[1:4]
    tmp = tempfile.mkdtemp(prefix="convert-diff.")
    try:
        rc = os.path.join(tmp, os.path.basename(src))
        with open(src) as f:
            text = f.read()
        if kind == "mpop":
            text = re.sub(r"(?m)^([ \t]*passwordeval)[ \t].*$",
                          r"\1 echo stub", text)
        with open(rc, "w") as f:
            f.write(text)
        os.chmod(rc, 0o600)
        if kind == "fetchmail":
            want, err = fetchmail_reference(rc)
        else:
            want, err = mpop_reference(rc)
        status, out, cerr = converted(kind, conv, rc)
        if want is None:
            if status == 0:
                print("%s: %s refuses it, the converter took it:\n%s"
                      % (src, kind, err), file=sys.stderr)
                return 1
            return 2
        if status != 0 and not want:
            return 0  # nothing to convert: refusing is right
        if status != 0:
            print("%s: %s takes it, the converter refused it:\n%s"
                  % (src, kind, cerr), file=sys.stderr)
            return 1
        got = popfetch_accounts(out)
        bad = []
        for origin in sorted(set(want) | set(got)):
            if origin not in got:
                bad.append("%s: missing from the conversion" % origin)
                continue
            if origin not in want:
                bad.append("%s: converted, but %s has no such account"
                           % (origin, kind))
                continue
            for k in FIELDS:
                w, g = want[origin].get(k), got[origin].get(k)
                if k == "rules":
                    g = g or []
                if w != g:
                    bad.append("%s: %s: %s says %r, the converter %r"
                               % (origin, k, kind, w, g))
        for b in bad:
            print("%s: %s" % (src, b), file=sys.stderr)
        return 1 if bad else 0
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    sys.exit(main())
