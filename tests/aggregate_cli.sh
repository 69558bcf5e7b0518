#!/usr/bin/env bash
# byzgd-aggregate on good and bad .npy files: results against NumPy, exit status 2 with a
# one-line message and no output file for every bad flag, file or precondition.
set -euo pipefail
bin="${BYZGD_BIN:-build/bin}/byzgd-aggregate"
python=/usr/bin/python3
[[ -x "$bin" ]] || { echo "no $bin"; exit 1; }
if ! "$python" -c 'import numpy' 2>/dev/null; then
    echo "python3-numpy is not installed"
    exit 77
fi
work=$(mktemp -d /tmp/byzgd-aggregate-XXXXXX)
trap 'rm -rf "$work"' EXIT
"$python" - "$bin" "$work" <<'PY'
import json, os, subprocess, sys
import numpy as np

binary, work = sys.argv[1], sys.argv[2]
failures = 0

def run(args, inp, out=None):
    out = out or os.path.join(work, "out.npy")
    if os.path.exists(out):
        os.remove(out)
    p = subprocess.run([binary, *args, inp, out], capture_output=True, text=True)
    return p, out

def fail(message):
    global failures
    failures += 1
    print("FAIL", message)

def save(name, array, **kw):
    path = os.path.join(work, name)
    np.save(path, array, **kw)
    return path

def raw(name, data):
    path = os.path.join(work, name)
    with open(path, "wb") as f:
        f.write(data)
    return path

def krum_index(x, f):
    x = x.astype(np.float64)
    n = len(x)
    d2 = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    scores = [np.sort(np.delete(d2[i], i))[: n - f - 2].sum() for i in range(n)]
    return int(np.argmin(scores)), scores

rng = np.random.default_rng(7)
x = rng.standard_normal((12, 300)).astype(np.float32)
x[4] += 40  # an outlier
good32 = save("good32.npy", x)
good64 = save("good64.npy", x.astype(np.float64))

# Good files: results against NumPy, float32 and float64 inputs agree.
expected = {
    ("average", 0): x.astype(np.float64).mean(0),
    ("median", 2): np.median(x.astype(np.float64), 0),
    ("trimmed-mean", 2): np.sort(x.astype(np.float64), 0)[2:10].mean(0),
}
k, scores = krum_index(x, 2)
expected[("krum", 2)] = x[k].astype(np.float64)
for (rule, f), want in expected.items():
    for path in (good32, good64):
        p, out = run(["--rule", rule, "-f", str(f)], path)
        if p.returncode != 0:
            fail(f"{rule} on {path}: status {p.returncode}: {p.stderr}")
            continue
        line = json.loads(p.stdout)
        got = np.load(out)
        if got.dtype != np.float32 or got.shape != (300,):
            fail(f"{rule}: output {got.dtype} {got.shape}")
        if not np.allclose(got, want, rtol=1e-6, atol=1e-6):
            fail(f"{rule}: max error {np.abs(got - want).max()}")
        for key in ("rule", "n", "d", "f", "ms", "dropped"):
            if key not in line:
                fail(f"{rule}: JSON lacks {key}: {p.stdout}")
        if line["n"] != 12 or line["d"] != 300 or line["f"] != f or line["rule"] != rule:
            fail(f"{rule}: JSON fields {p.stdout}")
        if rule == "krum":
            if line.get("selected") != [k]:
                fail(f"krum selected {line.get('selected')}, NumPy says {k}")
            if not np.allclose(line["scores"], scores, rtol=1e-6):
                fail("krum scores differ from NumPy")
            if 4 in line["selected"]:
                fail("krum selected the outlier")

# Options reach the rule: multi-krum m, geomed iterations, 1-p-krum choice, pre-aggregators.
p, _ = run(["--rule", "multi-krum", "-f", "2", "-m", "3"], good32)
if p.returncode != 0 or len(json.loads(p.stdout)["selected"]) != 3:
    fail(f"multi-krum -m 3: {p.stdout} {p.stderr}")
p, _ = run(["--rule", "geomed", "--iterations", "2", "--tolerance", "0"], good32)
if p.returncode != 0 or json.loads(p.stdout)["iterations"] != 2:
    fail(f"geomed --iterations 2: {p.stdout} {p.stderr}")
p, _ = run(["--rule", "1-p-krum", "-f", "2", "--round", "1", "--seed", "3"], good32)
if p.returncode != 0 or json.loads(p.stdout)["chose"] != "average":
    fail(f"1-p-krum round 1: {p.stdout} {p.stderr}")
for extra in (["--nnm"], ["--bucket", "2"], ["--clip", "5"], ["--rule=cclip", "--tau=3", "--start=zero"]):
    p, _ = run(["--rule", "median", "-f", "1", *extra], good32)
    if p.returncode != 0:
        fail(f"{extra}: {p.stderr}")

# With --bucket the JSON m is the m asked for (6 buckets of 2 rows), while `selected` lists
# the member rows of the selected buckets; without -m it is n - f of the vectors seen.
p, _ = run(["--rule", "multi-krum", "-f", "0", "-m", "3", "--bucket", "2"], good32)
line = json.loads(p.stdout) if p.returncode == 0 else {}
if p.returncode != 0 or line["m"] != 3 or len(line["selected"]) != 6:
    fail(f"multi-krum -m 3 --bucket 2: {p.stdout} {p.stderr}")
p, _ = run(["--rule", "multi-krum", "-f", "1", "--bucket", "2"], good32)
line = json.loads(p.stdout) if p.returncode == 0 else {}
if p.returncode != 0 or line["m"] != 5 or line["used"] != 6:
    fail(f"multi-krum --bucket 2 default m: {p.stdout} {p.stderr}")
p, _ = run(["--rule", "multi-krum", "-f", "2"], good32)
if p.returncode != 0 or json.loads(p.stdout)["m"] != 10:
    fail(f"multi-krum default m: {p.stdout} {p.stderr}")

# A non-finite row is dropped, counted and never selected.
y = x.copy()
y[k, 5] = np.nan
y[0, 0] = np.inf
p, out = run(["--rule", "krum", "-f", "2"], save("nan.npy", y))
line = json.loads(p.stdout) if p.returncode == 0 else {}
if p.returncode != 0 or line["dropped"] != 2 or k in line["selected"] or 0 in line["selected"]:
    fail(f"non-finite rows: {p.stdout} {p.stderr}")
elif not np.isfinite(np.load(out)).all():
    fail("non-finite output")
if line and line["scores"][k] is not None:
    fail("a dropped row has a score")

# float64 values beyond the float32 range become ±Inf: the row is dropped like a non-finite one.
z = x.astype(np.float64)
z[2, 7] = 1e300
p, out = run(["--rule", "krum", "-f", "2"], save("beyond.npy", z))
line = json.loads(p.stdout) if p.returncode == 0 else {}
if p.returncode != 0 or line["dropped"] != 1 or 2 in line["selected"]:
    fail(f"float64 beyond float32: {p.stdout} {p.stderr}")

# Bad flags, files and preconditions: status 2, one line on stderr, no output file.
header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
def npy(header_text, payload, version=b"\x01\x00"):
    h = header_text + b" " * (63 - (10 + len(header_text)) % 64) + b"\n"
    if version == b"\x01\x00":
        return b"\x93NUMPY" + version + len(h).to_bytes(2, "little") + h + payload
    return b"\x93NUMPY" + version + len(h).to_bytes(4, "little") + h + payload
ok_payload = np.arange(6, dtype="<f4").tobytes()
if run([], raw("v2.npy", npy(header, ok_payload, b"\x02\x00")))[0].returncode != 0:
    fail("version 2.0 file refused")
bad_files = {
    "fortran": save("fortran.npy", np.asfortranarray(x)),
    "int32": save("int32.npy", (x * 10).astype(np.int32)),
    "float16": save("float16.npy", x.astype(np.float16)),
    "big-endian": save("big.npy", x.astype(">f4")),
    "complex": save("complex.npy", x.astype(np.complex64)),
    "1-D": save("one.npy", x[0]),
    "3-D": save("three.npy", x.reshape(2, 6, 300)),
    "empty rows": save("empty.npy", np.zeros((0, 4), np.float32)),
    "truncated": raw("truncated.npy", open(good32, "rb").read()[:-7]),
    "trailing": raw("trailing.npy", open(good32, "rb").read() + b"\0\0\0\0"),
    "bad magic": raw("magic.npy", b"\x93NUMPZ" + open(good32, "rb").read()[6:]),
    "header only": raw("header.npy", open(good32, "rb").read()[:40]),
    "empty file": raw("zero.npy", b""),
    "text": raw("text.npy", b"hello world\n"),
    "bad version": raw("version.npy", npy(header, ok_payload, b"\x09\x00")),
    "no newline": raw("newline.npy", b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + ok_payload),
    "huge shape": raw("huge.npy", npy(b"{'descr': '<f4', 'fortran_order': False, 'shape': (4000000000, 4000000000), }", ok_payload)),
    "unknown key": raw("key.npy", npy(b"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1, }", ok_payload)),
    "missing key": raw("miss.npy", npy(b"{'descr': '<f4', 'shape': (2, 3), }", ok_payload)),
    "object": save("object.npy", np.array([[1, "a"]], dtype=object), allow_pickle=True),
    "missing file": os.path.join(work, "does-not-exist.npy"),
    "directory": work,
}
for name, path in bad_files.items():
    p, out = run(["--rule", "average"], path)
    lines = p.stderr.strip().splitlines()
    if p.returncode != 2 or len(lines) != 1 or os.path.exists(out):
        fail(f"bad file {name}: status {p.returncode}, stderr {p.stderr!r}, output {os.path.exists(out)}")
bad_args = {
    "unknown rule": ["--rule", "krumm"],
    "bad f": ["--rule", "krum", "-f", "two"],
    "negative f": ["--rule", "krum", "-f", "-1"],
    "unknown flag": ["--rule", "krum", "--bogus"],
    "missing value": ["--rule"],
    "round 0": ["--rule", "1-p-krum", "--round", "0"],
    "krum precondition": ["--rule", "krum", "-f", "5"],
    "bulyan precondition": ["--rule", "bulyan", "-f", "3"],
    "median precondition": ["--rule", "median", "-f", "6"],
    "mda precondition": ["--rule", "mda", "-f", "6"],
    "m too large": ["--rule", "multi-krum", "-f", "1", "-m", "13"],
    "m zero": ["--rule", "multi-krum", "-f", "1", "-m", "0"],
    "bad start": ["--rule", "cclip", "--start", "middle"],
    "bad tau": ["--rule", "cclip", "--tau", "x"],
    # Values the rules cannot honour are refused, never silently replaced.
    "clip zero": ["--rule", "median", "-f", "1", "--clip", "0"],
    "bucket zero": ["--rule", "median", "-f", "1", "--bucket", "0"],
    "iterations zero": ["--rule", "geomed", "--iterations", "0"],
    "max-iterations zero": ["--rule", "geomed", "--max-iterations", "0"],
}
for name, args in bad_args.items():
    p, out = run(args, good32)
    lines = p.stderr.strip().splitlines()
    if p.returncode != 2 or len(lines) != 1 or os.path.exists(out):
        fail(f"bad args {name}: status {p.returncode}, stderr {p.stderr!r}")
p, out = run(["--rule", "krum", "-f", "5"], good32)
if "krum needs n > 2f+2, got n=12 f=5" not in p.stderr:
    fail(f"krum precondition message: {p.stderr!r}")
p = subprocess.run([binary, "--rule", "krum", good32], capture_output=True, text=True)
if p.returncode != 2:
    fail("a missing OUT argument is accepted")
p = subprocess.run([binary, "--help"], capture_output=True, text=True)
if p.returncode != 0 or "multi-krum" not in p.stdout:
    fail("--help")
# An unwritable output: status 2 and nothing left behind.
p, _ = run(["--rule", "average"], good32, os.path.join(work, "no-such-dir", "out.npy"))
if p.returncode != 2:
    fail("unwritable output accepted")
leftovers = [f for f in os.listdir(work) if ".tmp." in f]
if leftovers:
    fail(f"temporary files left: {leftovers}")
print("failures:", failures)
sys.exit(1 if failures else 0)
PY
