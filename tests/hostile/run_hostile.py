#!/usr/bin/env python3
"""Runs attnc on a corpus of hostile inputs, each command under a memory and a time limit.

The corpus is tests/hostile/corpus/*.attn (small programs; the first line states what
`check` must do) plus inputs generated here at test time: devices, FIFOs, symlinks,
directories, huge sparse files, deep and exponential programs, long lines, invalid UTF-8,
NUL bytes, -D overrides and command-line sizes at the int32 limits.

For every program: `attnc check`; for the programs check accepts, `compile --emit=ptx` for
sm_80 and sm_90a (NVRTC needs no GPU), `run --backend cpu` at a small size and
`explain --q-len 256`. Every invocation is classified:

  crash         killed by a signal (or an exit code >= 128)
  hang          still running after --timeout seconds (then killed)
  memory        peak RSS over --rss-gib, or an allocation failure under `ulimit -v`
  internal      exit code 3 (NVRTC or internal compiler failure): a program check accepts
                must compile for both architectures
  unpositioned  an error without file:line:col for a bad program, or one that does not name
                the file for a bad file
  unexpected    an outcome other than the case's expectation (accepted a program it must
                reject, rejected one it must accept, failed where it must succeed, or printed
                more than the case allows)

It prints a table and the details of every failure and exits 1 if any count is non-zero.
Exit codes of attnc: docs/cli.md.

  run_hostile.py --attnc build/tools/attnc/attnc --scratch /tmp/hostile [--only REGEX]
"""
import argparse
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(os.path.dirname(HERE))
EXAMPLES = os.path.join(SOURCE_DIR, "examples")

OK, ERROR, ANY = "ok", "error", "any"  # what a command must do
CHECK_EXPECT = {"accept": OK, "reject": ERROR, "either": ANY}
CATEGORIES = ["crash", "hang", "memory", "internal", "unpositioned", "unexpected"]


@dataclass
class Command:
    label: str
    argv: List[str]
    expect: str = OK
    # "line": an error must carry file:line:col; "file": it must name the file; "any": an
    # "error:" line is enough (run-time errors, command-line problems).
    where: str = "any"


@dataclass
class Case:
    name: str
    path: str
    check: str  # accept | reject | either (docs/language.md decides which)
    compile: str = OK
    run: str = OK
    explain: str = OK
    where: str = "line"  # how check/compile errors must be located (see Command.where)
    args: List[str] = field(default_factory=list)  # for every command (-D ...)
    max_stderr: Optional[int] = None  # bytes
    # Commands that replace the program pipeline (cache, command-line sizes).
    commands: Optional[List[Command]] = None


@dataclass
class Result:
    case: Case
    command: Command
    rc: Optional[int] = None
    seconds: float = 0.0
    rss_mib: float = 0.0
    stderr: str = ""
    stderr_bytes: int = 0
    status: str = "ok"  # ok | err | one of CATEGORIES
    detail: str = ""


# --- the corpus ---------------------------------------------------------------------------


def parse_header(path):
    """`// hostile: check=accept run=any ...` on the first line of a corpus file."""
    with open(path, "rb") as f:
        first = f.readline().decode("ascii", "replace").strip()
    m = re.match(r"//\s*hostile:\s*(.*)$", first)
    if not m:
        raise SystemExit(f"{path}: the first line must be '// hostile: check=...'")
    settings = dict(item.split("=", 1) for item in m.group(1).split())
    unknown = set(settings) - {"check", "compile", "run", "explain", "where"}
    if unknown or settings.get("check") not in CHECK_EXPECT:
        raise SystemExit(f"{path}: bad hostile header: {first}")
    return settings


def committed_cases():
    corpus = os.path.join(HERE, "corpus")
    cases = []
    for name in sorted(os.listdir(corpus)):
        if name.endswith(".attn"):
            path = os.path.join(corpus, name)
            cases.append(Case(name=name[:-5], path=path, **parse_header(path)))
    return cases


def write(path, data):
    with open(path, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
    return path


def chain_program(name, n):
    """n chained lets (a_i = a_{i-1} + 1): deep use-def chains, each statement shallow."""
    lines = [f"attention {name} {{", "  let a0 = q - k;"]
    lines += [f"  let a{i} = a{i - 1} + 1;" for i in range(1, n)]
    lines += [f"  mask = a{n - 1} - {n - 1} >= 0;", "}"]
    return "\n".join(lines) + "\n"


def float_chain_program(name, n):
    lines = [f"attention {name} {{", "  mask = causal;", "  let s0 = score;"]
    lines += [f"  let s{i} = s{i - 1} * 0.5 + 0.5 * score;" for i in range(1, n)]
    lines += [f"  score = s{n - 1};", "}"]
    return "\n".join(lines) + "\n"


def dag_program(name, n, kind):
    """n lets that each use the previous one twice: 2^n paths, n + 1 distinct nodes."""
    if kind == "mask":
        body = ["  let a0 = q - k;"]
        body += [f"  let a{i} = a{i - 1} + a{i - 1};" for i in range(1, n + 1)]
        body += [f"  mask = causal && a{n} >= 0 - 2147483647 - 1;"]
    elif kind == "score":
        body = ["  mask = causal;", "  let a0 = score;"]
        body += [f"  let a{i} = (a{i - 1} + a{i - 1}) * 0.5;" for i in range(1, n + 1)]
        body += [f"  score = a{n};"]
    else:  # the route gate and always: float and int arithmetic on blocks
        body = ["  let g0 = float(blk);", "  let r0 = block_of(q);"]
        body += [f"  let g{i} = (g{i - 1} + g{i - 1}) * 0.5;" for i in range(1, n + 1)]
        body += [f"  let r{i} = (r{i - 1} + r{i - 1}) / 2;" for i in range(1, n + 1)]
        body += ["  route {", "    block = 16;", f"    gate = g{n} + dot(query, key);",
                 "    select = top(2);", f"    always = blk == r{n};", "  }", "  mask = causal;"]
    return "\n".join([f"attention {name} {{"] + body + ["}"]) + "\n"


def terms_program(name, n):
    return f"attention {name} {{\n  mask = q - k < " + " + ".join(["1"] * n) + ";\n}\n"


def generated_cases(scratch):
    g = os.path.join(scratch, "gen")
    os.makedirs(g, exist_ok=True)
    p = lambda name: os.path.join(g, name)  # noqa: E731
    valid = "attention valid {\n  mask = causal;\n}\n"
    cases = []

    def case(name, path, check, **kw):
        cases.append(Case(name=name, path=path, check=check, **kw))

    # Files that are not regular files, or too big to read: a clear error naming the file.
    case("dev_zero", "/dev/zero", "reject", where="file")
    case("dev_urandom", "/dev/urandom", "reject", where="file")
    case("dev_null", "/dev/null", "reject", where="file")  # empty: no attention
    os.mkfifo(p("fifo.attn"))
    case("fifo", p("fifo.attn"), "reject", where="file")
    os.symlink("/dev/zero", p("link_to_zero.attn"))
    case("symlink_to_dev_zero", p("link_to_zero.attn"), "reject", where="file")
    os.symlink("/dev/urandom", p("link_to_urandom.attn"))
    case("symlink_to_dev_urandom", p("link_to_urandom.attn"), "reject", where="file")
    os.symlink(p("fifo.attn"), p("link_to_fifo.attn"))
    case("symlink_to_fifo", p("link_to_fifo.attn"), "reject", where="file")
    os.symlink(p("loop_b.attn"), p("loop_a.attn"))
    os.symlink(p("loop_a.attn"), p("loop_b.attn"))
    case("symlink_loop", p("loop_a.attn"), "reject", where="file")
    os.symlink(p("missing.attn"), p("dangling.attn"))
    case("symlink_dangling", p("dangling.attn"), "reject", where="file")
    write(p("valid.attn"), valid)
    os.symlink(p("valid.attn"), p("link_to_valid.attn"))
    case("symlink_to_valid", p("link_to_valid.attn"), "either", where="file")
    os.mkdir(p("directory.attn"))
    case("directory", p("directory.attn"), "reject", where="file")
    with open(p("sparse_3gib.attn"), "wb") as f:
        f.truncate(3 << 30)  # sparse: no disk space used
    case("sparse_3gib", p("sparse_3gib.attn"), "reject", where="file")
    # The size limit (1 MiB, docs/language.md): exactly at it is fine, one byte over is not.
    pad = lambda text, size: text + "//" + "x" * (size - len(text) - 3) + "\n"  # noqa: E731
    write(p("exactly_1mib.attn"), pad(valid, 1 << 20))
    case("exactly_1mib", p("exactly_1mib.attn"), "accept")
    write(p("over_1mib.attn"), pad(valid, (1 << 20) + 1))
    case("over_1mib", p("over_1mib.attn"), "reject", where="file")

    # Bytes the language does not allow.
    write(p("long_line_comment.attn"), valid.replace("causal;", "causal; // " + "y" * 100000))
    case("long_line_comment", p("long_line_comment.attn"), "accept")
    write(p("long_line_error.attn"),
          "attention a {\n  mask = " + "causal && " * 10000 + "windw;\n}\n")
    # The diagnostic shows a window around the caret, not the 100 KB line.
    case("long_line_error", p("long_line_error.attn"), "reject", max_stderr=16384)
    write(p("utf8_comment.attn"), b"// \xff\xfe\xc3\x28 invalid UTF-8 in a comment\n"
          + valid.encode())
    case("invalid_utf8_in_comment", p("utf8_comment.attn"), "accept")
    write(p("utf8_code.attn"), b"attention a {\n  mask = causal && \xc3\x28;\n}\n")
    case("invalid_utf8_in_code", p("utf8_code.attn"), "reject")
    write(p("utf8_name.attn"), b"attention caf\xc3\xa9 {\n  mask = causal;\n}\n")
    case("utf8_in_name", p("utf8_name.attn"), "reject")
    write(p("nul_code.attn"), b"attention a {\n  mask = causal\x00 && q > 0;\n}\n")
    case("nul_in_code", p("nul_code.attn"), "reject")
    write(p("nul_comment.attn"), b"// a NUL \x00 in a comment\n" + valid.encode())
    case("nul_in_comment", p("nul_comment.attn"), "either")
    write(p("only_nuls.attn"), b"\x00" * 65536)
    case("only_nuls", p("only_nuls.attn"), "reject")
    rng = 0x2545F4914F6CDD1D
    noise = bytearray()
    for _ in range(65536):
        rng = (rng * 6364136223846793005 + 1442695040888963407) & (2**64 - 1)
        noise.append(rng >> 56)
    write(p("noise.attn"), bytes(noise))
    case("random_bytes", p("noise.attn"), "reject")
    write(p("crlf.attn"), valid.replace("\n", "\r\n"))
    case("crlf_line_ends", p("crlf.attn"), "accept")
    write(p("unterminated.attn"), "attention a {\n  mask = causal; /* " + "z" * 200000)
    case("unterminated_comment_200k", p("unterminated.attn"), "reject")

    # Deep programs: chains of lets pass check; nesting past the limit is an error.
    for n in (8000, 20000):
        write(p(f"chain_{n}.attn"), chain_program(f"chain_{n}", n))
        case(f"let_chain_{n}", p(f"chain_{n}.attn"), "either")
    write(p("float_chain_8000.attn"), float_chain_program("float_chain_8000", 8000))
    case("let_chain_8000_score", p("float_chain_8000.attn"), "either")
    write(p("parens.attn"), "attention a {\n  mask = " + "(" * 100000 + "causal"
          + ")" * 100000 + ";\n}\n")
    case("parens_100k", p("parens.attn"), "reject")
    write(p("nots.attn"), "attention a {\n  mask = " + "!" * 100000 + "causal;\n}\n")
    case("unary_not_100k", p("nots.attn"), "reject")
    write(p("negs.attn"), "attention a {\n  mask = q >= " + "- " * 100000 + "k;\n}\n")
    case("unary_minus_100k", p("negs.attn"), "reject")
    write(p("const_parens.attn"), "attention a {\n  const c = " + "(" * 100000 + "1"
          + ")" * 100000 + ";\n  mask = q >= c;\n}\n")
    case("const_parens_100k", p("const_parens.attn"), "reject")
    write(p("dims_parens.attn"), "attention a {\n  input t: i32[" + "(" * 100000 + "batch"
          + ")" * 100000 + "];\n  mask = t[b] > 0;\n}\n")
    case("input_dim_parens_100k", p("dims_parens.attn"), "reject")
    write(p("terms_100k.attn"), terms_program("terms_100k", 100000))
    case("terms_100k", p("terms_100k.attn"), "reject")
    # At most 256 levels (docs/language.md, section 10): under the comparison `<`, a chain of
    # 255 terms is the longest that fits.
    write(p("terms_255.attn"), terms_program("terms_255", 255))
    case("terms_255", p("terms_255.attn"), "accept")
    write(p("terms_256.attn"), terms_program("terms_256", 256))
    case("terms_256", p("terms_256.attn"), "reject")
    # Exponential DAGs: 40 lets, each using the previous one twice.
    for kind in ("mask", "score", "route"):
        write(p(f"dag_{kind}.attn"), dag_program(f"dag_{kind}", 40, kind))
        case(f"let_dag_40_{kind}", p(f"dag_{kind}.attn"), "accept")

    # -D overrides at and past the int32 limits (command-line errors: no line to point at).
    defines = os.path.join(HERE, "corpus", "defines.attn")
    for value, check in (("2147483647", "accept"), ("-2147483648", "accept"),
                         ("2147483648", "reject"), ("-2147483649", "reject"),
                         ("99999999999999999999999", "reject"), ("0x10", "reject"),
                         ("", "reject")):
        case(f"define_w={value}", defines, check, where="any", args=["-D", f"w={value}"])
    # Float constants must fit fp32 (the GPU computes in it); inf and -inf are values.
    for value, check in (("1e308", "reject"), ("1e999", "reject"), ("-1e39", "reject"),
                         ("3e38", "accept"), ("nan", "reject"), ("inf", "accept"),
                         ("-inf", "accept")):
        case(f"define_f={value}", defines, check, where="any", args=["-D", f"f={value}"])

    # Command-line sizes at the int32 limits: a clear error, never a crash or a huge
    # allocation.
    def run_sizes(name, example, *sizes, expect=ERROR):
        argv = ["run", os.path.join(EXAMPLES, example), "--backend", "cpu", *sizes]
        if "--head-dim" not in sizes:
            argv += ["--head-dim", "64"]
        cases.append(Case(name=name, path=os.path.join(EXAMPLES, example), check="accept",
                          commands=[Command("run", argv, expect)]))

    run_sizes("cli_q_len_max", "causal.attn", "--q-len", "2147483647")
    run_sizes("cli_kv_len_max", "causal.attn", "--q-len", "16", "--kv-len", "2147483647")
    run_sizes("cli_heads_max", "causal.attn", "--q-len", "16", "--heads", "2147483647")
    run_sizes("cli_batch_max", "causal.attn", "--q-len", "16", "--batch", "2147483647")
    run_sizes("cli_head_dim_max", "causal.attn", "--q-len", "16", "--head-dim", "2147483647")
    run_sizes("cli_q_len_negative", "causal.attn", "--q-len", "-5")
    run_sizes("cli_window_max", "sliding_w1024.attn", "--q-len", "64", "-P",
              "window=2147483647", expect=OK)
    run_sizes("cli_window_past_max", "sliding_w1024.attn", "--q-len", "64", "-P",
              "window=2147483648")

    # Cache entries that are not regular files: `cache list` and `clear` must not hang or
    # read them.
    cache = p("cache")
    os.mkdir(cache)
    key = "0123456789abcdef" * 4
    os.mkfifo(os.path.join(cache, key[:-1] + "1.cubin"))
    os.symlink("/dev/zero", os.path.join(cache, key[:-1] + "2.cubin"))
    os.mkdir(os.path.join(cache, key[:-1] + "3.cubin"))
    os.symlink(os.path.join(cache, "nowhere"), os.path.join(cache, key[:-1] + "4.cubin"))
    cases.append(Case(name="cache_hostile_entries", path=cache, check="accept", commands=[
        Command("list", ["cache", "--dir", cache, "list"], ANY),
        Command("clear", ["cache", "--dir", cache, "clear"], ANY)]))
    return cases


def program_commands(case):
    """check, then (only if check accepts) compile for both archs, run and explain."""
    a, path = case.args, case.path
    return [
        Command("check", ["check", *a, path], CHECK_EXPECT[case.check], case.where),
        Command("ptx sm_80", ["compile", path, "--emit=ptx", "--arch", "sm_80", "-o",
                              os.devnull, *a], case.compile, case.where),
        Command("ptx sm_90a", ["compile", path, "--emit=ptx", "--arch", "sm_90a", "-o",
                               os.devnull, *a], case.compile, case.where),
        Command("run", ["run", path, "--backend", "cpu", "--q-len", "64", "--kv-len", "80",
                        "--batch", "2", "--heads", "2", "--head-dim", "64", *a], case.run),
        Command("explain", ["explain", path, "--q-len", "256", *a], case.explain),
    ]


# --- running and judging --------------------------------------------------------------------


def execute(attnc, argv, env, timeout, mem_bytes):
    """Runs attnc under `ulimit -v`; returns (rc or None on timeout, seconds, rss MiB,
    stderr text, stderr size)."""
    import subprocess

    shell = ["/bin/sh", "-c", f'ulimit -v {mem_bytes // 1024} && exec "$@"', "sh", attnc, *argv]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        proc = subprocess.Popen(shell, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
                                start_new_session=True)
        timed_out = threading.Event()

        def kill():
            timed_out.set()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill)
        timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        seconds = time.monotonic() - start
        size = err.seek(0, os.SEEK_END)
        err.seek(0)
        text = err.read(65536).decode("utf-8", "replace")
    rc = None if timed_out.is_set() else proc.returncode
    return rc, seconds, usage.ru_maxrss / 1024.0, text, size


def judge(r, rss_limit_mib, timeout):
    """Sets r.status and r.detail from the outcome and the expectation."""
    c, cmd = r.case, r.command
    first = next((line for line in r.stderr.splitlines() if line.strip()), "")[:160]
    if r.rc is None:
        r.status, r.detail = "hang", f"killed after {timeout:.0f} s"
        return
    if (r.rss_mib > rss_limit_mib or re.search(r"bad_alloc|out of memory|Cannot allocate",
                                               r.stderr)
            or r.rc == -signal.SIGKILL):
        r.status, r.detail = "memory", f"peak RSS {r.rss_mib:.0f} MiB, rc {r.rc}: {first}"
        return
    if r.rc < 0 or r.rc >= 128:
        sig = -r.rc if r.rc < 0 else r.rc - 128
        name = signal.Signals(sig).name if sig in signal.valid_signals() else str(sig)
        r.status, r.detail = "crash", f"{name}: {first}"
        return
    if r.rc == 3:
        r.status, r.detail = "internal", first
        return
    if r.rc == 0:
        outcome = "ok"
    elif r.rc in (1, 2):
        outcome = "err"
    else:
        r.status, r.detail = "unexpected", f"exit code {r.rc}: {first}"
        return
    r.status = outcome
    if outcome == "err":
        if cmd.where == "line":
            located = re.search(re.escape(c.path) + r":\d+:\d+: (error|warning)", r.stderr)
            want = "file:line:col"
        elif cmd.where == "file":
            located = c.path in r.stderr
            want = "the file's name"
        else:
            located = "error:" in r.stderr
            want = "an 'error:' line"
        if not located:
            r.status, r.detail = "unpositioned", f"error without {want}: {first!r}"
            return
    if cmd.expect == OK and outcome != "ok":
        r.status, r.detail = "unexpected", f"must succeed, exit code {r.rc}: {first}"
    elif cmd.expect == ERROR and outcome != "err":
        r.status, r.detail = "unexpected", "must fail with an error, but succeeded"
    elif c.max_stderr is not None and r.stderr_bytes > c.max_stderr:
        r.status, r.detail = "unexpected", (f"{r.stderr_bytes} bytes on stderr (at most "
                                            f"{c.max_stderr})")


def run_case(case, opts, env):
    results = []
    commands = case.commands or program_commands(case)
    for i, cmd in enumerate(commands):
        if case.commands is None and i > 0 and (results[0].rc != 0):
            break  # only programs that check accepts go further
        r = Result(case, cmd)
        r.rc, r.seconds, r.rss_mib, r.stderr, r.stderr_bytes = execute(
            opts.attnc, cmd.argv, env, opts.timeout, opts.mem_gib << 30)
        judge(r, opts.rss_gib * 1024, opts.timeout)
        results.append(r)
        if opts.verbose:
            print(f"  {case.name}: {cmd.label}: {r.status} ({r.seconds:.1f} s)", flush=True)
    return case, results


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--attnc", required=True)
    ap.add_argument("--scratch", required=True, help="work directory (recreated)")
    ap.add_argument("--only", help="run only the cases whose name matches this regex")
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds per command")
    ap.add_argument("--mem-gib", type=int, default=4, help="ulimit -v per command")
    ap.add_argument("--rss-gib", type=float, default=1.5, help="peak RSS counted as blow-up")
    ap.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1))
    ap.add_argument("--verbose", action="store_true")
    opts = ap.parse_args()
    opts.attnc = os.path.abspath(opts.attnc)
    if not os.access(opts.attnc, os.X_OK):
        print(f"run_hostile: error: {opts.attnc} is not an executable")
        return 1

    scratch = os.path.abspath(opts.scratch)
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    env = dict(os.environ, ATTNC_CACHE_DIR=os.path.join(scratch, "kernel-cache"))
    env.pop("ATTNC_EXAMPLES_DIR", None)
    cases = committed_cases() + generated_cases(scratch)
    if opts.only:
        cases = [c for c in cases if re.search(opts.only, c.name)]
    if not cases:
        print("run_hostile: error: no case selected")
        return 1

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, opts.jobs)) as pool:
        done = list(pool.map(lambda c: run_case(c, opts, env), cases))
    wall = time.monotonic() - start

    # The table: one row per case, one column per command.
    labels = ["check", "ptx sm_80", "ptx sm_90a", "run", "explain"]
    width = max(len(c.name) for c in cases)
    print(f"{'case':<{width}}  {'expect':<7}" + "".join(f"{lab:>13}" for lab in labels))
    counts = {k: 0 for k in CATEGORIES}
    failures = []
    for case, results in done:
        cells = {}
        for r in results:
            cell = r.status if r.status in ("ok", "err") else r.status.upper()
            cells[r.command.label if case.commands is None else labels[0]] = cell
            if r.status in counts:
                counts[r.status] += 1
                failures.append(r)
        if case.commands is not None:  # cache and command-line cases: one summary cell
            worst = next((r for r in results if r.status in counts), results[-1])
            cells = {labels[0]: "/".join(r.command.label for r in results) + ": "
                     + (worst.status if worst.status in ("ok", "err") else worst.status.upper())}
            print(f"{case.name:<{width}}  {'-':<7}  {cells[labels[0]]}")
            continue
        print(f"{case.name:<{width}}  {case.check:<7}"
              + "".join(f"{cells.get(lab, '-'):>13}" for lab in labels))

    if failures:
        print("\nfailures:")
        for r in failures:
            argv = " ".join(a if len(a) < 80 else a[:40] + "..." for a in r.command.argv)
            print(f"  {r.case.name} [{r.command.label}] {r.status}: {r.detail}")
            print(f"      attnc {argv}  (rc {r.rc}, {r.seconds:.1f} s, {r.rss_mib:.0f} MiB)")
    total = sum(counts.values())
    print("\n" + ", ".join(f"{k} {v}" for k, v in counts.items())
          + f"; {len(cases)} cases, {sum(len(r) for _, r in done)} commands, {wall:.0f} s")
    shutil.rmtree(scratch, ignore_errors=True)
    if total:
        print(f"hostile inputs: FAILED ({total} failing commands)")
        return 1
    print("hostile inputs: all expectations met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
