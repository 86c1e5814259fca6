# lit configuration for the attnc compiler's IR tests (attn dialect and passes).
import os
import lit.formats

config.name = "attnc-compiler"
config.test_format = lit.formats.ShTest(True)
config.suffixes = [".mlir", ".attn"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.attnc_binary_dir, "tests", "compiler", "lit")
config.excludes = ["lit.cfg.py", "lit.site.cfg.py.in", "Inputs"]
config.substitutions.append(("%attnc-opt", config.attnc_opt))
config.substitutions.append(("%FileCheck", config.filecheck))
# The attnc command line, to compare attnc-opt's pipeline with what codegen produces.
config.substitutions.append(("%attnc-cli", config.attnc_cli))
# LLVM's `not` (next to FileCheck): inverts the exit status, for expected failures.
config.substitutions.append(("%not", os.path.join(os.path.dirname(config.filecheck), "not")))
config.substitutions.append(("%examples", os.path.join(config.attnc_source_dir, "examples")))
config.substitutions.append(
    ("%fuzz_corpus", os.path.join(config.attnc_source_dir, "tests", "fuzz", "corpus_pipeline")))
