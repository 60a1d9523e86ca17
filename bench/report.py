#!/usr/bin/env python3
"""Turn the benchmark's measurements into bench/RESULTS.md and a chart.

usage: report.py META RESULTS OUTDIR

(make bench keeps META and RESULTS as results-meta.tsv and results.tsv
beside RESULTS.md, so that the report can be made again from them.)

META is a file of "key<TAB>value" lines about the machine and the run;
RESULTS has one line per client run:

    profile client iteration wall_us user_s sys_s maxrss_kb status [server_s]

where profile is MAILBOX:FS:NET[:DELETE], or parN:FS:NET:jJ for popfetch
-j J on N accounts (small split among them), or manyN:FS:NET:jJ (popfetch)
and manyN:FS:NET:seq (the others) on N server users of their own, an
iteration below 1 is a warm-up, status is "ok" or "fail:why", and
server_s the CPU time Dovecot spent during the run (newer results only).  Writes OUTDIR/RESULTS.md,
OUTDIR/results.dat and, with gnuplot, OUTDIR/results.png.
"""

import os
import statistics
import subprocess
import sys

CLIENTS = ["popfetch", "mpop", "getmail", "fetchmail", "fdm", "rawpop", "floor"]
LABELS = {
    "popfetch": "popfetch",
    "mpop": "mpop",
    "getmail": "getmail6",
    "fetchmail": "fetchmail + maildrop",
    "fdm": "fdm",
    "rawpop": "raw transfer (rawpop)",
    "floor": "transfer only (floor)",
}
FS = {"disk": "disk", "tmpfs": "tmpfs"}
NET = {"plain": "plain", "tls": "TLS"}


def load(meta_path, res_path):
    meta = {}
    with open(meta_path) as fp:
        for line in fp:
            k, _, v = line.rstrip("\n").partition("\t")
            meta[k] = v
    runs = {}
    order = []
    with open(res_path) as fp:
        for line in fp:
            f = line.rstrip("\n").split("\t")
            if len(f) not in (8, 9):
                continue
            prof, client, it, wall, user, sys_, rss, status = f[:8]
            server = float(f[8]) if len(f) == 9 else None
            key = (prof, client)
            if key not in runs:
                runs[key] = []
                order.append(key)
            if status == "fail:prime":
                runs[key].append({"status": status})
                continue
            if int(it) < 1:
                continue
            runs[key].append(
                {
                    "wall": int(wall) / 1e6,
                    "cpu": float(user) + float(sys_),
                    "rss": int(rss) / 1024,
                    "server": server,
                    "status": status,
                }
            )
    return meta, runs, order


def summarise(rs):
    ok = [r for r in rs if r["status"] == "ok"]
    failed = [r["status"] for r in rs if r["status"] != "ok"]
    if not ok:
        return {"n": 0, "of": len(rs), "failed": failed}
    return {
        "n": len(ok),
        "of": len(rs),
        "failed": failed,
        "wall": statistics.median(r["wall"] for r in ok),
        "cpu": statistics.median(r["cpu"] for r in ok),
        "rss": statistics.median(r["rss"] for r in ok),
    }


def box_of(prof):
    return prof.split(":")[0]


def net_name(net):
    """plain or tls, with "+Nms" where bench/relay added a round trip."""
    base, _, rtt = net.partition("+")
    s = NET.get(base, base)
    if rtt.endswith("ms"):
        s += " %s ms away" % rtt[:-2]
    return s


def prof_name(prof):
    p = prof.split(":")
    s = "%s, %s, %s" % (p[0], FS.get(p[1], p[1]), net_name(p[2]))
    if len(p) > 3:
        s += ", deleting" if p[3] == "delete" else ", delete = " + p[3]
    return s


def fmt(x, digits=2):
    if x is None:
        return "—"
    if x >= 100:
        return "%.0f" % x
    return "%.*f" % (digits, x)


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "—"
    return "%.2f×" % (a / b)


def box_sizes(meta):
    sizes = {}
    for b in ("small", "large", "keep100k"):
        v = meta.get("box_" + b, "0 0").split()
        sizes[b] = (int(v[0]), int(v[1]))
    for k, v in meta.items():
        if k.startswith("box_par") or k.startswith("box_many"):
            v = v.split()
            sizes[k[4:]] = (int(v[0]), int(v[1]))
    return sizes


def is_par(prof):
    """A profile of popfetch -j on several accounts: parN:FS:NET:jJ."""
    p = prof.split(":")
    return (
        len(p) == 4
        and p[0][:3] == "par"
        and p[0][3:].isdigit()
        and p[3][:1] == "j"
        and p[3][1:].isdigit()
    )


def is_many(prof):
    """A profile of many accounts: manyN:FS:NET:jJ or manyN:FS:NET:seq."""
    p = prof.split(":")
    return (
        len(p) == 4
        and p[0][:4] == "many"
        and p[0][4:].isdigit()
        and (p[3] == "seq" or (p[3][:1] == "j" and p[3][1:].isdigit()))
    )


def many_table(out, runs, many_profiles, sizes):
    """Each client on many accounts: wall, CPU, peak RSS of one process,
    the server's CPU, and each one's wall time over popfetch -j 1's."""
    rows = []
    base = None
    for p in many_profiles:
        clients = sorted(
            runs.get(p, {}),
            key=lambda c: CLIENTS.index(c) if c in CLIENTS else len(CLIENTS),
        )
        for client in clients:
            rs = runs[p][client]
            ok = [r for r in rs if r["status"] == "ok"]
            how = p.split(":")[3]
            label = LABELS.get(client, client)
            label += " -j %s" % how[1:] if how != "seq" else " (one account after the other)"
            if not ok:
                rows.append((label, None, len(rs)))
                continue
            srv = [r["server"] for r in ok if r["server"] is not None]
            st = {
                "n": len(ok),
                "wall": statistics.median(r["wall"] for r in ok),
                "cpu": statistics.median(r["cpu"] for r in ok),
                "rss": statistics.median(r["rss"] for r in ok),
                "server": statistics.median(srv) if srv else None,
            }
            if client == "popfetch" and how == "j1":
                base = st["wall"]
            rows.append((label, st, len(rs)))
    box = box_of(many_profiles[0])
    nmsg, nbytes = sizes.get(box, (0, 0))
    out.append(
        "#### %d accounts, %s, %s: %d messages, %.1f MB in all\n"
        % (
            int(box[4:]),
            FS.get(many_profiles[0].split(":")[1], "?"),
            NET.get(many_profiles[0].split(":")[2], "?"),
            nmsg,
            nbytes / 1e6,
        )
    )
    out.append(
        "| client | runs ok | wall s | CPU s | peak RSS of a process MiB "
        "| server CPU s | msg/s | popfetch -j 1 wall ÷ this wall |"
    )
    out.append("|---|--:|--:|--:|--:|--:|--:|--:|")
    for label, st, of in rows:
        if st is None:
            out.append("| %s | 0/%d | failed | | | | | |" % (label, of))
            continue
        out.append(
            "| %s | %d/%d | %s | %s | %.1f | %s | %s | %s |"
            % (
                label,
                st["n"],
                of,
                fmt(st["wall"], 3),
                fmt(st["cpu"], 3),
                st["rss"],
                fmt(st["server"], 2) if st["server"] is not None else "—",
                fmt(nmsg / st["wall"], 1) if nmsg else "—",
                ratio(base, st["wall"]),
            )
        )
    out.append("")


def par_accounts(prof):
    return int(box_of(prof)[3:])


def par_jobs(prof):
    return int(prof.split(":")[3][1:])


def profile_table(out, prof, stats, sizes):
    box = box_of(prof)
    nmsg, nbytes = sizes[box]
    moving = box != "keep100k"
    pf = stats.get("popfetch", {})
    out.append("#### %s\n" % prof_name(prof))
    out.append(
        "| client | runs ok | wall s | CPU s | peak RSS MiB | msg/s | MB/s "
        "| wall ÷ popfetch's | CPU ÷ popfetch's |"
    )
    out.append("|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    for c in CLIENTS:
        if c not in stats:
            continue
        s = stats[c]
        if s["n"] == 0:
            why = ", ".join(sorted(set(s["failed"])))
            out.append(
                "| %s | 0/%d | failed (%s) | | | | | | |"
                % (LABELS[c], s["of"], why)
            )
            continue
        wall = s["wall"]
        out.append(
            "| %s | %d/%d | %s | %s | %.1f | %s | %s | %s | %s |"
            % (
                LABELS[c],
                s["n"],
                s["of"],
                fmt(wall, 3),
                fmt(s["cpu"], 3),
                s["rss"],
                fmt(nmsg / wall, 1) if moving else "—",
                fmt(nbytes / 1e6 / wall, 1) if moving else "—",
                ratio(wall, pf.get("wall")),
                ratio(s["cpu"], pf.get("cpu")),
            )
        )
    out.append("")


def overview(out, profiles, allstats):
    out.append(
        "| median wall time, s | "
        + " | ".join(prof_name(p) for p in profiles)
        + " |"
    )
    out.append("|---|" + "--:|" * len(profiles))
    for c in CLIENTS:
        cells = []
        seen = False
        for p in profiles:
            s = allstats[p].get(c)
            if s is None:
                cells.append("")
                continue
            seen = True
            cells.append(fmt(s["wall"], 3) if s["n"] else "failed")
        if seen:
            out.append("| %s | %s |" % (LABELS[c], " | ".join(cells)))
    out.append("")
    out.append(
        "| popfetch's speed-up: peer's wall time ÷ popfetch's | "
        + " | ".join(prof_name(p) for p in profiles)
        + " |"
    )
    out.append("|---|" + "--:|" * len(profiles))
    for c in CLIENTS:
        if c == "popfetch":
            continue
        cells = []
        seen = False
        for p in profiles:
            s = allstats[p].get(c)
            pf = allstats[p].get("popfetch")
            if s is None or pf is None:
                cells.append("")
                continue
            seen = True
            cells.append(
                ratio(s.get("wall"), pf.get("wall"))
                if s["n"] and pf["n"]
                else "—"
            )
        if seen:
            out.append("| %s | %s |" % (LABELS[c], " | ".join(cells)))
    pf_raw = []
    for p in profiles:
        pf = allstats[p].get("popfetch")
        raw = allstats[p].get("rawpop")
        if pf and raw and pf["n"] and raw["n"]:
            pf_raw.append(ratio(pf["wall"], raw["wall"]))
        else:
            pf_raw.append("")
    if any(pf_raw):
        out.append(
            "| popfetch's wall time ÷ the raw transfer's | %s |"
            % " | ".join(pf_raw)
        )
    out.append("")


def delete_table(out, allstats, delete_profiles):
    bases = sorted({":".join(p.split(":")[:3]) for p in delete_profiles})
    out.append(
        "| popfetch on small | keep, s | each, s | batch, s "
        "| mpop deleting, s | each ÷ keep | batch ÷ keep | each ÷ batch "
        "| each ÷ mpop | batch ÷ mpop |"
    )
    out.append("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for b in bases:
        k = allstats.get(b, {}).get("popfetch", {})
        e = allstats.get(b + ":each", {}).get("popfetch", {})
        t = allstats.get(b + ":batch", {}).get("popfetch", {})
        m = allstats.get(b + ":delete", {}).get("mpop", {})
        out.append(
            "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |"
            % (
                ", ".join(prof_name(b).split(", ")[1:]),
                fmt(k.get("wall"), 3),
                fmt(e.get("wall"), 3),
                fmt(t.get("wall"), 3),
                fmt(m.get("wall"), 3),
                ratio(e.get("wall"), k.get("wall")),
                ratio(t.get("wall"), k.get("wall")),
                ratio(e.get("wall"), t.get("wall")),
                ratio(e.get("wall"), m.get("wall")),
                ratio(t.get("wall"), m.get("wall")),
            )
        )
    out.append("")
    out.append(
        "Ratios here are of wall times, so above 1 means slower.  `each` "
        "sends RETR n+1 only after DELE n, and DELE n only once message n "
        "is durable: at least one round trip and one flush to disk per "
        "message, by its nature; `batch` and mpop pipeline everything.  "
        "The time a round trip adds to `each` is the message count times "
        "the round trip."
    )
    out.append("")
    # The server's own cost of deleting, from the raw baseline.
    rows = []
    for b in bases:
        rk = allstats.get(b, {}).get("rawpop", {})
        rd = allstats.get(b + ":delete", {}).get("rawpop", {})
        e = allstats.get(b + ":each", {}).get("popfetch", {})
        t = allstats.get(b + ":batch", {}).get("popfetch", {})
        if not rd:
            continue
        rows.append(
            "| %s | %s | %s | %s | %s | %s |"
            % (
                ", ".join(prof_name(b).split(", ")[1:]),
                fmt(rk.get("wall"), 3),
                fmt(rd.get("wall"), 3),
                ratio(rd.get("wall"), rk.get("wall")),
                ratio(e.get("wall"), rd.get("wall")),
                ratio(t.get("wall"), rd.get("wall")),
            )
        )
    if rows:
        out.append(
            "What deleting costs the server alone: the raw transfer "
            "(`rawpop`) keeping, and with `-d` (every message retrieved, "
            "then DELE for all, pipelined, and QUIT), on the same fresh "
            "copies."
        )
        out.append("")
        out.append(
            "| raw transfer on small | keep, s | deleting, s "
            "| deleting ÷ keep | popfetch each ÷ raw deleting "
            "| popfetch batch ÷ raw deleting |"
        )
        out.append("|---|--:|--:|--:|--:|--:|")
        out.extend(rows)
        out.append("")


def par_table(out, allstats, par_profiles, sizes):
    """popfetch -j J on the same accounts, side by side; the speed-up is
    the wall time of the smallest J (normally -j 1) over each J's."""
    bases = []
    for p in par_profiles:
        b = ":".join(p.split(":")[:3])
        if b not in bases:
            bases.append(b)
    for b in bases:
        profs = sorted(
            (p for p in par_profiles if p.startswith(b + ":")), key=par_jobs
        )
        nacc = par_accounts(b)
        nmsg, nbytes = sizes.get(box_of(b), (0, 0))
        first = allstats[profs[0]].get("popfetch", {})
        one = allstats.get("small:" + b.split(":", 1)[1], {}).get("popfetch")
        out.append(
            "#### %d accounts, %s, %s: %d messages, %.1f MB in all\n"
            % (
                nacc,
                FS.get(b.split(":")[1], b.split(":")[1]),
                NET.get(b.split(":")[2], b.split(":")[2]),
                nmsg,
                nbytes / 1e6,
            )
        )
        out.append(
            "| popfetch | runs ok | wall s | CPU s | peak RSS MiB | msg/s "
            "| MB/s | speed-up: -j %d wall ÷ this wall |" % par_jobs(profs[0])
        )
        out.append("|---|--:|--:|--:|--:|--:|--:|--:|")
        for p in profs:
            s = allstats[p].get("popfetch")
            if s is None:
                continue
            if s["n"] == 0:
                why = ", ".join(sorted(set(s["failed"])))
                out.append(
                    "| -j %d | 0/%d | failed (%s) | | | | | |"
                    % (par_jobs(p), s["of"], why)
                )
                continue
            out.append(
                "| -j %d | %d/%d | %s | %s | %.1f | %s | %s | %s |"
                % (
                    par_jobs(p),
                    s["n"],
                    s["of"],
                    fmt(s["wall"], 3),
                    fmt(s["cpu"], 3),
                    s["rss"],
                    fmt(nmsg / s["wall"], 1) if nmsg else "—",
                    fmt(nbytes / 1e6 / s["wall"], 1) if nmsg else "—",
                    ratio(first.get("wall"), s["wall"]),
                )
            )
        if one and one["n"]:
            nsmall, bsmall = sizes["small"]
            out.append(
                "| one account, small (the same messages) | %d/%d | %s | %s "
                "| %.1f | %s | %s | |"
                % (
                    one["n"],
                    one["of"],
                    fmt(one["wall"], 3),
                    fmt(one["cpu"], 3),
                    one["rss"],
                    fmt(nsmall / one["wall"], 1),
                    fmt(bsmall / 1e6 / one["wall"], 1),
                )
            )
        out.append("")


def chart(outdir, profiles, allstats):
    dat = os.path.join(outdir, "results.dat")
    clients = [
        c for c in CLIENTS if any(c in allstats[p] for p in profiles)
    ]
    with open(dat, "w") as fp:
        fp.write("profile\t" + "\t".join(LABELS[c] for c in clients) + "\n")
        for p in profiles:
            row = []
            for c in clients:
                s = allstats[p].get(c)
                row.append("%.4f" % s["wall"] if s and s["n"] else "NaN")
            fp.write(
                '"%s"\t%s\n' % (prof_name(p).replace(", ", "\\n"), "\t".join(row))
            )
    png = os.path.join(outdir, "results.png")
    script = """
set terminal pngcairo size 1400,700 font "sans,10"
set output '%s'
set datafile separator "\\t"
set datafile missing "NaN"
set title "Median wall time per client and profile (lower is better; log scale)"
set ylabel "seconds"
set logscale y
set grid ytics
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key outside top center horizontal
set bmargin 6
set xtics nomirror
plot for [i=2:%d] '%s' using i:xtic(1) title columnheader(i)
""" % (
        png,
        len(clients) + 1,
        dat,
    )
    try:
        subprocess.run(["gnuplot"], input=script.encode(), check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        sys.stderr.write("report: gnuplot failed: %s\n" % e)


def main(argv):
    if len(argv) != 4:
        sys.stderr.write(__doc__)
        return 2
    meta, runs, order = load(argv[1], argv[2])
    outdir = argv[3]
    sizes = box_sizes(meta)
    allstats = {}
    profiles = []
    delete_profiles = []
    par_profiles = []
    many_profiles = []
    many_runs = {}
    for prof, client in order:
        if is_many(prof):
            if prof not in many_runs:
                many_profiles.append(prof)
                many_runs[prof] = {}
            many_runs[prof][client] = runs[(prof, client)]
            continue
        if prof not in allstats:
            allstats[prof] = {}
            if is_par(prof):
                par_profiles.append(prof)
            elif len(prof.split(":")) > 3:
                delete_profiles.append(prof)
            else:
                profiles.append(prof)
        allstats[prof][client] = summarise(runs[(prof, client)])

    out = []
    out.append("# popfetch benchmark results\n")
    out.append(
        "Written by `make bench` (bench/bench.sh, bench/report.py) on %s; "
        "see bench/README.md for what is measured and how.%s\n"
        % (
            meta.get("date", "?"),
            " **Quick mode: fewer messages and runs, not for comparison.**"
            if meta.get("quick") == "1"
            else "",
        )
    )
    out.append("Rerun from the build directory with:\n")
    out.append("```\n%s\n```\n" % meta.get("command", "make bench"))
    out.append("## Machine and versions\n")
    for k, label in (
        ("nproc", "CPUs (nproc)"),
        ("cpu", "CPU"),
        ("memory", "memory"),
        ("kernel", "kernel"),
        ("disk", "disk (the \"disk\" profiles)"),
        ("tmpfs", "tmpfs (the \"tmpfs\" profiles)"),
        ("load_start", "load average at the start (1, 5, 15 min)"),
        ("load_end", "load average at the end"),
        ("duration", "duration of the whole run, s"),
    ):
        out.append("- %s: %s" % (label, meta.get(k, "?")))
    out.append("- server: %s on 127.0.0.1, same machine" % meta.get("dovecot"))
    for c in CLIENTS:
        if "version_" + c in meta:
            out.append("- %s: %s" % (LABELS[c], meta["version_" + c]))
    out.append(
        "- runs: %s measured after %s warm-up, medians reported; seed %s"
        % (meta.get("runs"), meta.get("warmup"), meta.get("seed"))
    )
    out.append("")
    out.append("## Mailboxes\n")
    for b, what in (
        ("small", "3–6 KB with realistic headers"),
        ("large", "about 8 MB each, base64 attachments"),
        ("keep100k", "tiny, all fetched before: a run with nothing new"),
    ):
        n, size = sizes[b]
        if n == 0:
            # Not used in this run (BENCH_PROFILES).
            continue
        out.append("- `%s`: %d messages, %.1f MB, %s" % (b, n, size / 1e6, what))
    for b in sorted({box_of(p) for p in par_profiles}):
        n, size = sizes.get(b, (0, 0))
        out.append(
            "- `%s`: the messages of `small` split in order among %d "
            "accounts (server users) of %d messages each, %.1f MB in all"
            % (b, par_accounts(b), n // par_accounts(b), size / 1e6)
        )
    for b in sorted({box_of(p) for p in many_profiles}):
        n, size = sizes.get(b, (0, 0))
        out.append(
            "- `%s`: %d server users (accounts) of %s messages of the "
            "kind of `small` each, %d messages, %.1f MB in all"
            % (b, int(b[4:]), meta.get("many_msgs", "?"), n, size / 1e6)
        )
    for c in CLIENTS:
        if "prime_" + c in meta:
            out.append(
                "- keep100k, first full fetch by %s (not timed, tmpfs, TLS): %s"
                % (LABELS[c], meta["prime_" + c])
            )
    out.append("")
    if profiles:
        out.append("## Overview\n")
        overview(out, profiles, allstats)
        out.append(
            "Wall time is from start to exit of the client (its MDA "
            "included); CPU is user + system time of the client and its "
            "children; peak RSS is the largest of them.  msg/s and MB/s "
            "count the messages and bytes of the mailbox as stored on "
            "the server (LF line endings; MB = 10^6 bytes).  A ratio "
            "above 1 means popfetch is faster (or uses less CPU).  A "
            "client whose Maildir did not hold every message byte for "
            "byte, or that failed, is not timed: its run counts as "
            "failed.\n"
        )
        out.append("![median wall time per client and profile](results.png)\n")
    if delete_profiles:
        out.append("## popfetch: keep, each and batch\n")
        out.append(
            "The server mailbox is copied afresh (not timed) before each "
            "run with `delete = each` or `batch`, and before each run of "
            "mpop deleting (`keep off`).  Profiles \"N ms away\" go "
            "through bench/relay, which holds every octet back half the "
            "round trip in each direction.\n"
        )
        delete_table(out, allstats, delete_profiles)
    if par_profiles:
        nacc = sorted({par_accounts(p) for p in par_profiles})
        jobs = sorted({par_jobs(p) for p in par_profiles})
        out.append(
            "## popfetch: %s accounts, %s\n"
            % (
                " and ".join(str(n) for n in nacc),
                " and ".join("-j %d" % j for j in jobs),
            )
        )
        out.append(
            "One configuration file with an account per server user, "
            "each with its own Maildir, `delete = keep`; every run starts "
            "with empty Maildirs and no state, so every message is new, "
            "and each -j runs once per round.  CPU time and peak RSS are "
            "of popfetch and the processes it starts for the accounts "
            "(peak RSS: the largest one).  msg/s and MB/s count all the "
            "accounts' messages.\n"
        )
        par_table(out, allstats, par_profiles, sizes)
    if many_profiles:
        out.append("## Many accounts\n")
        out.append(
            "Every account a server user of its own with %s small "
            "messages; every run starts with empty Maildirs and no "
            "state.  popfetch reads the accounts from a directory of "
            "account files, one per account (`include`), and fetches "
            "`-j` of them at once; mpop (`-a`) and fetchmail have them "
            "all in one configuration file, as their users would, and "
            "fetch one after the other.  Peak RSS is that of the largest "
            "single process (a popfetch child with `-j`); server CPU is "
            "Dovecot's user + system time during the run, all its "
            "processes.\n" % meta.get("many_msgs", "the same number of")
        )
        for b in sorted({":".join(p.split(":")[:3]) for p in many_profiles}):
            many_table(
                out,
                many_runs,
                [p for p in many_profiles if p.startswith(b + ":")],
                sizes,
            )
    if profiles or delete_profiles:
        out.append("## Each profile\n")
    for p in profiles + delete_profiles:
        profile_table(out, p, allstats[p], sizes)
    with open(os.path.join(outdir, "RESULTS.md"), "w") as fp:
        fp.write("\n".join(out))
    if profiles:
        chart(outdir, profiles, allstats)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
