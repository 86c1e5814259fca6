#!/usr/bin/env python3
"""Checks two properties of the sm_90a kernels' SASS that ptxas can break silently.

setmaxnreg: no code after a `setmaxnreg N` touches R(N-1), the last register of its allotment.
A warpgroup that does faults on the H200 (CUDA_ERROR_ILLEGAL_INSTRUCTION; docs/runtime.md,
"setmaxnreg"). ptxas normally keeps two registers free below N, but its spill code has used the
top ones as don't-care lanes of 4-wide stores. The check follows the control flow from each
USETMAXREG to the next and reports the highest register each region touches, vector operands
counted whole.

wgmma: ptxas has not serialised the warpgroup matrix products. Short of registers it makes
every wgmma wait for the one before (info C7512, shown only with -v), which costs a large part
of a kernel's speed without any error; in SASS every HGMMA then closes a group of its own
(`gsb0`). A function with at least MIN_HGMMA of them, all closing, fails.

Without cubins, it compiles every example's forward and backward kernels with the attnc CLI
(sm_90a, bf16, head dims 64 and 128), and disassembles them (cuobjdump -sass, from the CUDA
toolkit or the nvidia-cuda-cuobjdump wheel).

  usage: scripts/check-sass.py [--attnc build/tools/attnc/attnc] [--jobs 2] [CUBIN...]
         scripts/check-sass.py --sass FILE     (cuobjdump -sass text)
"""
import argparse
import concurrent.futures
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

MIN_HGMMA = 8  # the kernels' groups hold head dim / 16 >= 4 products; a serialised kernel has more
INSTRUCTION = re.compile(r"/\*([0-9a-f]{4,})\*/\s+(.*?)\s*;")
FUNCTION = re.compile(r"Function : (\S+)")


def find_cuobjdump():
    candidates = [shutil.which("cuobjdump"),
                  os.path.join(os.environ.get("CUDA_HOME", "/usr/local/cuda"), "bin", "cuobjdump")]
    for entry in sys.path:  # the nvidia-cuda-cuobjdump wheel (scripts/setup.sh installs it)
        candidates += sorted(glob.glob(os.path.join(entry or ".", "nvidia", "*", "bin",
                                                    "cuobjdump")))
    for path in candidates:  # cuobjdump -sass runs the nvdisasm beside it
        if path and os.access(path, os.X_OK) and \
                os.access(os.path.join(os.path.dirname(path), "nvdisasm"), os.X_OK):
            return path
    return None


def parse(sass):
    """{function: [(address, predicate, opcode, operands)]} from cuobjdump -sass text."""
    functions, current = {}, None
    for line in sass.splitlines():
        match = FUNCTION.search(line)
        if match:
            current = functions.setdefault(match.group(1), [])
            continue
        match = INSTRUCTION.search(line)
        if match and current is not None:
            text = match.group(2)
            predicate = ""
            if text.startswith("@"):
                predicate, text = text.split(None, 1)
            opcode, _, operands = text.partition(" ")
            current.append((int(match.group(1), 16), predicate, opcode, operands))
    return functions


def vector_width(opcode):
    """How many registers a data operand of `opcode` spans."""
    matrices = opcode.startswith(("LDSM", "STSM"))
    if ".128" in opcode or (matrices and opcode.endswith(".4")):
        return 4
    if ".64" in opcode or ".WIDE" in opcode or (matrices and opcode.endswith(".2")):
        return 2
    return 1


def register_extent(opcode, operands):
    """The highest general register an instruction names, its vector operands counted whole."""
    highest = -1
    width = vector_width(opcode)
    gmma = re.match(r"HGMMA\.64x(\d+)x\d+\.(F32|F16)", opcode)
    for index, register in enumerate(re.findall(r"(?<![\w.])R(\d+)\b",
                                                 re.sub(r"\[[^\]]*\]", "", operands))):
        span = width
        if gmma:  # the accumulator: N / 2 (F32) or N / 4 (F16) registers; A from registers: 4
            span = int(gmma.group(1)) // (2 if gmma.group(2) == "F32" else 4) if index == 0 else 4
        highest = max(highest, int(register) + span - 1)
    for register in re.findall(r"\[\s*R(\d+)", operands):  # address registers (64-bit: pairs)
        highest = max(highest, int(register) + (1 if ".64" in operands else 0))
    return highest


def successors(code, index, by_address):
    address, predicate, opcode, operands = code[index]
    fallthrough = [index + 1] if index + 1 < len(code) else []
    target = re.search(r"0x([0-9a-f]+)", operands)
    target = [by_address[int(target.group(1), 16)]] if target and \
        int(target.group(1), 16) in by_address else []
    if opcode.startswith(("BRA", "CALL", "BSSY", "BREAK")):
        if opcode.startswith("BRA") and not predicate:
            return target
        return target + fallthrough
    if opcode.startswith(("EXIT", "RET")):
        return fallthrough if predicate else []
    if opcode.startswith(("BRX", "JMX")):  # indirect: assume anything can follow
        return list(range(len(code)))
    return fallthrough


def regions(code):
    """[(budget, highest register, where)] for each USETMAXREG of one function."""
    by_address = {address: i for i, (address, *_ ) in enumerate(code)}
    found = []
    for start, (_, _, opcode, operands) in enumerate(code):
        if not opcode.startswith("USETMAXREG"):
            continue
        budget = int(re.findall(r"0x([0-9a-f]+)", operands)[-1], 16)
        seen, stack, highest, where = set(), [start + 1], -1, ""
        while stack:
            i = stack.pop()
            if i in seen or i >= len(code) or code[i][2].startswith("USETMAXREG"):
                continue
            seen.add(i)
            extent = register_extent(code[i][2], code[i][3])
            if extent > highest:
                highest = extent
                where = f"{code[i][0]:04x}: {code[i][1]} {code[i][2]} {code[i][3]}".strip()
            stack.extend(successors(code, i, by_address))
        found.append((budget, highest, where))
    return found


def wgmma_groups(code):
    """(HGMMA instructions, those closing a group: gsb0) of one function."""
    gmma = [operands for _, _, opcode, operands in code if opcode.startswith("HGMMA")]
    return len(gmma), sum(1 for operands in gmma if re.search(r"\bgsb0\b", operands))


def compile_cubins(attnc, directory):
    jobs = []
    for path in sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "examples",
                                              "*.attn"))):
        name = os.path.splitext(os.path.basename(path))[0]
        for head_dim in (64, 128):
            for backward in (False, True):
                out = os.path.join(directory, f"{name}-d{head_dim}{'-bwd' if backward else ''}.cubin")
                command = [attnc, "compile", path, "--emit", "cubin", "--arch", "sm_90a",
                           "--head-dim", str(head_dim), "-o", out] + (["--backward"] if backward
                                                                      else [])
                jobs.append((out, command))
    return jobs


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--attnc", default=os.path.join(os.path.dirname(__file__), "..", "build",
                                                        "tools", "attnc", "attnc"))
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--sass", help="check this cuobjdump -sass text instead of cubins")
    parser.add_argument("cubins", nargs="*")
    args = parser.parse_args()
    if args.sass:
        with open(args.sass) as f:
            return report({args.sass: f.read()})
    cuobjdump = find_cuobjdump()
    if cuobjdump is None:
        print("check-sass: no cuobjdump with nvdisasm beside it (CUDA toolkit, or pip "
              "install nvidia-cuda-cuobjdump nvidia-cuda-nvdisasm; scripts/setup.sh does)",
              file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as directory:
        cubins = args.cubins
        if not cubins:
            jobs = compile_cubins(args.attnc, directory)
            with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
                results = list(pool.map(lambda job: subprocess.run(job[1], capture_output=True,
                                                                   text=True), jobs))
            for (out, command), result in zip(jobs, results):
                if result.returncode != 0:
                    print(f"check-sass: {' '.join(command)} failed:\n{result.stderr}",
                          file=sys.stderr)
                    return 1
            cubins = [out for out, _ in jobs]
        env = dict(os.environ, NVDISASM_PATH=os.path.dirname(cuobjdump))
        return report({cubin: subprocess.run([cuobjdump, "-sass", cubin], capture_output=True,
                                             text=True, check=True, env=env).stdout
                       for cubin in cubins})


def report(sass_by_file):
    """Prints each setmaxnreg region's highest register and each function's wgmma groups; 1
    when a region touches R(N-1), a function's wgmma are serialised, or no region was found."""
    failures = serialised = regions_checked = functions_checked = 0
    for name, sass in sass_by_file.items():
        for function, code in parse(sass).items():
            for budget, highest, where in regions(code):
                regions_checked += 1
                status = "FAULT" if highest >= budget - 1 else "ok"
                failures += status == "FAULT"
                print(f"{status:10} {os.path.basename(name):36} {function:34} setmaxnreg "
                      f"{budget:3}: highest R{highest}" +
                      (f"  at {where}" if status == "FAULT" else ""))
            products, closing = wgmma_groups(code)
            if products >= MIN_HGMMA:
                functions_checked += 1
                status = "SERIALISED" if closing == products else "ok"
                serialised += status == "SERIALISED"
                print(f"{status:10} {os.path.basename(name):36} {function:34} wgmma: "
                      f"{products} HGMMA, {closing} closing a group")
    print(f"check-sass: {regions_checked} setmaxnreg regions in {len(sass_by_file)} files, "
          f"{failures} touching the last register of their allotment; {functions_checked} "
          f"functions with wgmma, {serialised} serialised")
    return 1 if failures or serialised or regions_checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
