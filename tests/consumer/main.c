/* Uses the installed C ABI: compiles a program for no GPU ("none") and prints what it got. */
#include <attnc/attnc.h>
#include <stdio.h>

int main(void) {
  attnc_context *ctx = NULL;
  if (attnc_context_create("", &ctx) != ATTNC_OK) {
    fprintf(stderr, "context: %s\n", attnc_last_error());
    return 1;
  }
  attnc_options *options = NULL;
  attnc_kernel *kernel = NULL;
  if (attnc_options_create(&options) != ATTNC_OK ||
      attnc_options_set_arch(options, "none") != ATTNC_OK ||
      attnc_compile(ctx, "attention c { mask = causal; }", "c.attn", options, &kernel) != ATTNC_OK) {
    fprintf(stderr, "compile: %s\n", attnc_last_error());
    return 1;
  }
  printf("attnc %s (ABI %d): compiled '%s' for %s\n", attnc_version(), attnc_abi_version(),
         attnc_kernel_name(kernel), attnc_kernel_arch(kernel));
  attnc_kernel_release(kernel);
  attnc_options_destroy(options);
  attnc_context_destroy(ctx);
  return 0;
}
