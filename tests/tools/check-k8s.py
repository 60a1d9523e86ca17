#!/usr/bin/env python3
"""Check contrib/kubernetes/popfetch-cronjob.yaml, offline.

    check-k8s.py MANIFEST SCHEMA [OUTDIR]

Each YAML document is validated against the JSON Schema of its kind in
SCHEMA (tests/data/k8s/schema.json: the fields popfetch relies on), then
the manifest is checked as a whole: the shard count agrees with the
indexed job, every mount has its volume and every volume its object,
each shard's state and Maildirs are in its own directory, and the
configuration is mounted where popfetch looks for it.  With OUTDIR, the
configuration files of the ConfigMaps are written there (the include
directory made OUTDIR/accounts), for popfetch to load.  Exit 0 if all
holds, else 1 with a line per problem.
"""

import json
import os
import re
import sys

import jsonschema
import yaml

INDEX = "JOB_COMPLETION_INDEX"
INDEX_PATH = "metadata.annotations['batch.kubernetes.io/job-completion-index']"


def validate(docs, schema, problems):
    for n, doc in enumerate(docs, 1):
        kind = doc.get("kind") if isinstance(doc, dict) else None
        if kind not in schema["kinds"]:
            problems.append(f"document {n}: unexpected kind {kind!r}")
            continue
        sub = dict(schema["kinds"][kind])
        sub["definitions"] = schema["definitions"]
        validator = jsonschema.Draft7Validator(sub)
        for e in sorted(validator.iter_errors(doc), key=str):
            where = "/".join(str(p) for p in e.absolute_path) or "."
            problems.append(f"{kind} {where}: {e.message}")


def find(docs, kind, name):
    for doc in docs:
        if doc.get("kind") == kind and doc["metadata"]["name"] == name:
            return doc
    return None


def under(path, top):
    return path == top or path.startswith(top.rstrip("/") + "/")


def check_job(docs, problems):
    jobs = [d for d in docs if d.get("kind") == "CronJob"]
    if len(jobs) != 1:
        problems.append(f"{len(jobs)} CronJobs, not one")
        return None
    spec = jobs[0]["spec"]["jobTemplate"]["spec"]
    pod = spec["template"]["spec"]
    box = pod["containers"][0]
    env = {e["name"]: e for e in box["env"]}

    shards = env.get("SHARDS", {}).get("value")
    if shards is None or not shards.isdigit():
        problems.append("the container has no SHARDS number")
    elif not int(shards) == spec["completions"] == spec["parallelism"]:
        problems.append(
            f"SHARDS ({shards}), completions ({spec['completions']}) and "
            f"parallelism ({spec['parallelism']}) differ")
    ref = env.get(INDEX, {}).get("valueFrom", {}).get("fieldRef", {})
    if ref.get("fieldPath") != INDEX_PATH:
        problems.append(f"{INDEX} is not taken from {INDEX_PATH}")
    command = " ".join(box["command"])
    if not re.search(r'--shard "?\$' + INDEX + r'/\$SHARDS', command):
        problems.append(f"the command does not run --shard ${INDEX}/$SHARDS")

    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {}
    for m in box["volumeMounts"]:
        mounts[m["mountPath"]] = m
        v = volumes.get(m["name"])
        if v is None:
            problems.append(f"mount {m['mountPath']}: no volume {m['name']}")
            continue
        for key, kind, field in (("configMap", "ConfigMap", "name"),
                                 ("secret", "Secret", "secretName"),
                                 ("persistentVolumeClaim",
                                  "PersistentVolumeClaim", "claimName")):
            if key in v and find(docs, kind, v[key][field]) is None:
                problems.append(f"volume {v['name']}: no {kind} "
                                f"{v[key][field]}")
    for name in volumes:
        if name not in {m["name"] for m in box["volumeMounts"]}:
            problems.append(f"volume {name} is not mounted")

    # The shard's own directory: a subPathExpr naming the index, on the
    # claim, and the state under it.
    shard_dirs = [m["mountPath"] for m in box["volumeMounts"]
                  if f"$({INDEX})" in m.get("subPathExpr", "")
                  and "persistentVolumeClaim" in volumes.get(m["name"], {})]
    if len(shard_dirs) != 1:
        problems.append("no single mount of the claim with a subPathExpr "
                        f"naming $({INDEX})")
        return None
    state = env.get("XDG_STATE_HOME", {}).get("value", "")
    if not under(state, shard_dirs[0]):
        problems.append(f"XDG_STATE_HOME ({state or 'unset'}) is not in "
                        f"the shard's own directory {shard_dirs[0]}")
    return {"env": env, "mounts": mounts, "volumes": volumes,
            "shard_dir": shard_dirs[0]}


def configmap_at(docs, job, path):
    m = job["mounts"].get(path)
    if m is None or "configMap" not in job["volumes"].get(m["name"], {}):
        return None
    return find(docs, "ConfigMap", job["volumes"][m["name"]]["configMap"]
                ["name"])


def check_config(docs, job, problems, outdir):
    xdg = job["env"].get("XDG_CONFIG_HOME", {}).get("value", "")
    main = configmap_at(docs, job, xdg.rstrip("/") + "/popfetch")
    if main is None or "config" not in main["data"]:
        problems.append("no ConfigMap with a key config mounted at "
                        "$XDG_CONFIG_HOME/popfetch")
        return
    text = main["data"]["config"]
    inc = re.search(r'^\s*include\s*=\s*"([^"]+)"', text, re.M)
    accounts = configmap_at(docs, job, inc.group(1)) if inc else None
    if accounts is None:
        problems.append("the configuration's include names no ConfigMap "
                        "mount")
        return
    for name, body in accounts["data"].items():
        if not name.endswith(".conf"):
            problems.append(f"{name}: not a *.conf name: not read")
        for md in re.findall(r'^\s*maildir\s*=\s*"([^"]+)"', body, re.M):
            if not under(md, job["shard_dir"]):
                problems.append(f"{name}: maildir {md} is not in the "
                                f"shard's own directory {job['shard_dir']}")
    if outdir is None:
        return
    os.makedirs(os.path.join(outdir, "accounts"), exist_ok=True)
    text = text.replace(inc.group(0), inc.group(0).replace(
        inc.group(1), os.path.join(outdir, "accounts")))
    with open(os.path.join(outdir, "config"), "w") as f:
        f.write(text)
    for name, body in accounts["data"].items():
        with open(os.path.join(outdir, "accounts", name), "w") as f:
            f.write(body)


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__.split("\n\n")[1])
    with open(sys.argv[1]) as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    with open(sys.argv[2]) as f:
        schema = json.load(f)
    problems = []
    validate(docs, schema, problems)
    if not problems:
        job = check_job(docs, problems)
        if job is not None:
            check_config(docs, job, problems,
                         sys.argv[3] if len(sys.argv) == 4 else None)
    for p in problems:
        print(f"{sys.argv[1]}: {p}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
