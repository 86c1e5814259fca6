// RUN: %attnc-opt %s --attn-fast-float-math | %FileCheck %s
// The fast float functions in the hooks; the routing functions keep exact math.

// CHECK-LABEL: emitc.func @attnc_score(
emitc.func @attnc_score(%x: f32, %y: f32, %d: f64) -> f32 {
  // CHECK: emitc.call_opaque "attnc_fexp"(%{{.*}}) : (f32) -> f32
  %0 = emitc.call_opaque "expf"(%x) : (f32) -> f32
  // CHECK: emitc.call_opaque "attnc_fexp2"
  %1 = emitc.call_opaque "exp2f"(%0) : (f32) -> f32
  // CHECK: emitc.call_opaque "attnc_flog"(
  %2 = emitc.call_opaque "logf"(%1) : (f32) -> f32
  // CHECK: emitc.call_opaque "attnc_flog2"
  %3 = emitc.call_opaque "log2f"(%2) : (f32) -> f32
  // CHECK: emitc.call_opaque "attnc_ftanh"
  %4 = emitc.call_opaque "tanhf"(%3) : (f32) -> f32
  // No fast version: unchanged.
  // CHECK: emitc.call_opaque "sqrtf"
  %5 = emitc.call_opaque "sqrtf"(%4) : (f32) -> f32
  // A finite non-zero constant divisor with a finite reciprocal: multiply by 1/c.
  // CHECK: %[[R:.*]] = "emitc.constant"() <{value = 2.500000e-01 : f32}> : () -> f32
  // CHECK: emitc.mul %{{.*}}, %[[R]] : (f32, f32) -> f32
  %c4 = "emitc.constant"() <{value = 4.0 : f32}> : () -> f32
  %6 = emitc.div %5, %c4 : (f32, f32) -> f32
  // Zero, and a constant whose fp32 reciprocal overflows: attnc_fdiv.
  // CHECK: emitc.call_opaque "attnc_fdiv"
  // CHECK: emitc.call_opaque "attnc_fdiv"
  %c0 = "emitc.constant"() <{value = 0.0 : f32}> : () -> f32
  %7 = emitc.div %6, %c0 : (f32, f32) -> f32
  %tiny = "emitc.constant"() <{value = 1.0e-39 : f32}> : () -> f32
  %8 = emitc.div %7, %tiny : (f32, f32) -> f32
  // A divisor that is not a constant.
  // CHECK: emitc.call_opaque "attnc_fdiv"(%{{.*}}, %arg1) : (f32, f32) -> f32
  %9 = emitc.div %8, %y : (f32, f32) -> f32
  // f64 division and math stay exact.
  // CHECK: emitc.div %arg2, %arg2 : (f64, f64) -> f64
  // CHECK: emitc.call_opaque "exp"
  %10 = emitc.div %d, %d : (f64, f64) -> f64
  %11 = emitc.call_opaque "exp"(%10) : (f64) -> f64
  // CHECK-NOT: emitc.div
  // CHECK-NOT: "expf"
  // CHECK: emitc.return
  emitc.return %9 : f32
}

// CHECK-LABEL: emitc.func @attnc_route_gate(
emitc.func @attnc_route_gate(%x: f32, %y: f32) -> f32 {
  // CHECK: emitc.call_opaque "expf"
  // CHECK: emitc.div
  // CHECK-NOT: attnc_f
  %0 = emitc.call_opaque "expf"(%x) : (f32) -> f32
  %1 = emitc.div %0, %y : (f32, f32) -> f32
  emitc.return %1 : f32
}
