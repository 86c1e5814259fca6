/*===- tiered_exit.c - A process may end while a tiered compile runs -------===*
 *
 * Compiles with tiering on, then returns from main with the context never destroyed (as a
 * Python process may leave its default context): the optimized compile is still running
 * on its background thread, and exit must wait for it instead of tearing NVRTC down under
 * it. The test passes when the process exits with 0 and the optimized kernel reached the
 * disk cache (a second run, also ctest's, finds it: argv[1] == "expect-hit").
 *
 *===----------------------------------------------------------------------===*/
#include <attnc/attnc.h>

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
  const int expectHit = argc > 1 && strcmp(argv[1], "expect-hit") == 0;
  attnc_context *ctx = NULL;
  attnc_options *options = NULL;
  attnc_kernel *kernel = NULL;
  if (attnc_context_create(NULL, &ctx) != ATTNC_OK || attnc_options_create(&options) != ATTNC_OK ||
      attnc_options_set_arch(options, "sm_80") != ATTNC_OK ||
      attnc_options_set_head_dim(options, 64) != ATTNC_OK ||
      attnc_options_set_tiering(options, ATTNC_TIERING_ON) != ATTNC_OK) {
    fprintf(stderr, "setup failed: %s\n", attnc_last_error());
    return 1;
  }
  if (attnc_compile(ctx, "attention exit_test { mask = causal && q - k < 77; }", "exit.attn",
                    options, &kernel) != ATTNC_OK) {
    fprintf(stderr, "compile failed: %s\n", attnc_last_error());
    return 1;
  }
  const int optimized = attnc_kernel_is_optimized(kernel);
  printf("first kernel: %s\n", optimized ? "optimized (cache hit)" : "quick");
  if (expectHit != optimized) {
    fprintf(stderr, expectHit ? "expected the optimized kernel from the disk cache\n"
                              : "expected a cache miss (is the cache directory fresh?)\n");
    return 1;
  }
  return 0; /* ctx, options and kernel deliberately leaked */
}
