"""`attnc explain --json` prints one JSON object holding the same facts as the text output.

usage: explain_json_test.py ATTNC EXAMPLES_DIR INPUTS_DIR
"""
import json
import re
import subprocess
import sys

attnc, examples, inputs = sys.argv[1:4]
failures = []


def check(condition, what):
    if not condition:
        failures.append(what)


def explain(args):
    result = subprocess.run([attnc, "explain"] + args, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"attnc explain {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result.stdout


def compare(args):
    text = explain(args)
    facts = json.loads(explain(args + ["--json"]))
    shape = facts["shape"]
    check(f"q_len {shape['q_len']} kv_len {shape['kv_len']}" in text, "shape")
    m = re.search(r"kept pairs +(\d+) of (\d+) \(density ([0-9.]+); exact\)", text)
    check(facts["kept_pairs_kind"] == "exact", "kept pairs counted exactly")
    check(facts["kept_pairs_bounds"] == [facts["kept_pairs"]] * 2, "exact bounds")
    check(m and int(m[1]) == facts["kept_pairs"] and int(m[2]) == facts["total_pairs"],
          f"kept pairs: text {m and m.groups()} json {facts['kept_pairs']}")
    check(abs(facts["density"] - facts["kept_pairs"] / facts["total_pairs"]) < 1e-12, "density")
    check(facts["useful_flops"] == 4 * shape["head_dim"] * facts["kept_pairs"], "useful FLOPs")
    tiles = facts["tiles"]
    for name in ("empty", "partial", "full"):
        m = re.search(rf"^  {name} +(\d+) ", text, re.M)
        check(m and int(m[1]) == tiles[name], f"{name} tiles: text {m and m[1]} json {tiles[name]}")
    per_head = tiles["tiles_q"] * tiles["tiles_k"]
    check(tiles["empty"] + tiles["partial"] + tiles["full"]
          == per_head * shape["batch"] * shape["heads"], "tile classes add up")
    for p in facts["params"]:
        check(re.search(rf"^param: {p['name']} = ", text, re.M), f"param {p['name']} in text")
    for i in facts["inputs"]:
        check(f"input: {i['name']} {i['element_type']}" in text, f"input {i['name']} in text")
    kernel = facts["kernel"]
    check(kernel["key_loop_bounded"] == ("bounded by attnc_kv_ranges" in text), "key loop")
    check(kernel["block_routing"] == ("block routing           none" not in text), "routing")
    return facts


# Causal at 512 with 128x64 tiles: 12 empty, 12 full, 8 partial (as in cli_explain_causal).
facts = compare([f"{examples}/causal.attn", "--q-len", "512"])
tiles = facts["tiles"]
check((tiles["empty"], tiles["full"], tiles["partial"]) == (12, 12, 8), "causal tile counts")
check(facts["kept_pairs"] == 512 * 513 // 2, "causal kept pairs")
check(facts["block_metadata"]["bytes"] == 0, "causal has no block metadata")
check(facts["params"] == [] and facts["inputs"] == [], "causal has no params or inputs")

# The sm90 key tile (attnc_tile_policy.h): 128 for key-interval masks, 64 at head dim 256,
# for masks that are not a union of key intervals and for routed ones.
check(facts["kernel"]["sm90_key_tile"] == 128, "causal sm90 key tile")
for example, dim, tile in (("causal", 256, 64), ("natten2d_17", 128, 64),
                           ("moba_bs512_top3", 128, 64)):
    kernel = json.loads(explain([f"{examples}/{example}.attn", "--q-len", "512", "--head-dim",
                                 str(dim), "--json"]))
    check(kernel["kernel"]["sm90_key_tile"] == tile, f"{example} d{dim} sm90 key tile")

# The backward's sm90 query tile (attnc_tile_policy.h): 80 at head dim 128 unless the keys'
# queries lie in a window, the mask reads inputs or is routed, or makes many comparisons.
check(facts["backward"] == {"available": True, "sm90_query_tile": 80, "query_window": False},
      "causal backward")
for example, dim, tile, window in (("causal", 64, 64, False), ("sliding_w1024", 128, 64, True),
                                   ("sink4_w1024", 128, 64, True),
                                   ("document_causal", 128, 64, False),
                                   ("s2_shards", 128, 64, False), ("prefix_lm_2048", 128, 80, False)):
    backward = json.loads(explain([f"{examples}/{example}.attn", "--q-len", "512", "--head-dim",
                                   str(dim), "--json"]))["backward"]
    check(backward == {"available": True, "sm90_query_tile": tile, "query_window": window},
          f"{example} d{dim} backward: {backward}")
stepped = f"{examples}/../tests/compiler/lit/Inputs/not-differentiable.attn"
backward = json.loads(explain([stepped, "--q-len", "256", "--json"]))["backward"]
check(backward["available"] is False and ":6:25: error: 'int()'" in backward["error"],
      f"a program without a backward says why: {backward}")

facts = compare([f"{examples}/sliding_w1024.attn", "--q-len", "2048", "-P", "window=256"])
check(facts["params"] == [{"name": "window", "value": 256, "given": True}], "given param")

# A file input: one document in batch 0, two in batch 1; the summaries show as metadata.
facts = compare([f"{examples}/document_causal.attn", "--q-len", "64", "--batch", "2",
                 "--input", f"doc={inputs}/doc_2x64.npy"])
check(facts["kept_pairs"] == 2080 + 1056, "document kept pairs from the file")
check(facts["inputs"][0]["source"] == "file" and facts["inputs"][0]["dims"] == [2, 64],
      "document input from a file")
check(facts["kernel"]["input_summaries"] == ["doc"], "doc is summarised")
check(facts["block_metadata"]["input_summary_bytes"] > 0, "summary bytes")

# Routing and a default param.
facts = compare([f"{examples}/duo_attention.attn", "--q-len", "256", "--heads", "4",
                 "--input", "retrieval=0"])
check(facts["params"] == [{"name": "window", "value": 1024, "given": False}], "default param")
check(facts["inputs"][0]["source"] == "constant", "constant input")

if failures:
    print("FAILED:\n  " + "\n  ".join(failures))
    sys.exit(1)
print("explain --json agrees with the text output")
