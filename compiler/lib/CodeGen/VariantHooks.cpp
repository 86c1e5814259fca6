//===- VariantHooks.cpp - The members of a program's variant --------------===//
#include "VariantHooks.h"

namespace attnc::compiler::hooks {

llvm::ArrayRef<VariantHook> variantHooks() {
  static constexpr VariantHook kHooks[] = {
      {"attnc_mask", "mask"},
      {"attnc_mask_index", "maskIndex"},
      {"attnc_mask_data", "maskData"},
      {"attnc_score", "score"},
      {"attnc_out", "out"},
      {"attnc_classify", "classify"},
      {"attnc_classify_factors", "classifyFactors"},
      {"attnc_kv_ranges", "kvRanges"},
      {"attnc_q_ranges", "qRanges"},
      {"attnc_score_grad", "scoreGrad"},
      {"attnc_out_grad", "outGrad"},
      {"attnc_route_block_of", "routeBlockOf"},
      {"attnc_route_num_blocks", "routeNumBlocks"},
      {"attnc_route_gate", "routeGate"},
      {"attnc_route_always", "routeAlways"},
      {"attnc_route_never", "routeNever"},
  };
  return kHooks;
}

} // namespace attnc::compiler::hooks
