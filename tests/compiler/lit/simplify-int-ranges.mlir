// RUN: %attnc-opt %s --split-input-file --attn-simplify-int-ranges | %FileCheck %s
// RUN: %attnc-opt %s --split-input-file --attn-simplify-int-ranges --attn-to-emitc | %FileCheck %s --check-prefix=EMITC
// Integer range analysis (indices and shapes are non-negative) proves the rewrites exact.

// CHECK-LABEL: attn.spec @rewritten mask {
// Division and remainder of an index by a positive constant become unsigned.
// CHECK: %[[Q:.*]] = attn.index "q" : i32
// CHECK: %[[Y:.*]] = arith.divui %[[Q]], %c128_i32 : i32
// CHECK: %[[X:.*]] = arith.remui %[[Q]], %c128_i32 : i32
// abs(y - k) <= 8 is one unsigned range test of y - k + 8.
// CHECK: %[[D:.*]] = arith.subi %[[Y]], %{{.*}} : i32
// CHECK-NOT: math.absi
// CHECK: %[[S:.*]] = arith.addi %[[D]], %c8_i32{{.*}} : i32
// CHECK: %[[IN:.*]] = arith.cmpi ule, %[[S]], %c16_i32 : i32
// abs(x - k) < 8 is abs(x - k) <= 7; abs(x - k) > 8 is the complement of <= 8.
// CHECK: arith.addi %{{.*}}, %c7_i32 : i32
// CHECK: arith.cmpi ule, %{{.*}}, %c14_i32 : i32
// CHECK: arith.addi %{{.*}}, %c8_i32{{.*}} : i32
// CHECK: arith.cmpi ugt, %{{.*}}, %c16_i32{{.*}} : i32
// CHECK: } score {
attn.spec @rewritten mask {
  %q = attn.index "q" : i32
  %k = attn.index "k" : i32
  %c128 = arith.constant 128 : i32
  %c8 = arith.constant 8 : i32
  %y = arith.divsi %q, %c128 : i32
  %x = arith.remsi %q, %c128 : i32
  %dy = arith.subi %y, %k : i32
  %ay = math.absi %dy : i32
  %iny = arith.cmpi sle, %ay, %c8 : i32
  %dx = arith.subi %x, %k : i32
  %ax = math.absi %dx : i32
  %inx = arith.cmpi slt, %ax, %c8 : i32
  %ax2 = math.absi %dx : i32
  %outx = arith.cmpi sgt, %ax2, %c8 : i32
  %both = arith.andi %iny, %inx : i1
  %keep = arith.andi %both, %outx : i1
  attn.yield %keep : i1
} score {
  %s = attn.score : f32
  attn.yield %s : f32
} out {
  %o = attn.out : f32
  attn.yield %o : f32
} route {
}

// -----

// CHECK-LABEL: attn.spec @kept mask {
// A parameter may be negative and INT_MIN: nothing is proven, nothing changes.
// CHECK: arith.divsi
// CHECK: arith.remsi
// CHECK: math.absi
// CHECK: arith.cmpi sle, %{{.*}}, %c16_i32
// A divisor that is not a positive constant keeps the signed division.
// CHECK: arith.divsi %{{.*}}, %c-4_i32
// abs(q) is never INT_MIN, but a negative bound is left to other folds.
// CHECK: math.absi
// CHECK: arith.cmpi sle, %{{.*}}, %c-4_i32
// An absolute value with other uses stays, and so does its compare (the test would add an
// instruction, not replace one).
// CHECK: %[[A:.*]] = math.absi %[[N:.*]] : i32
// CHECK: arith.cmpi sle, %[[A]], %c16_i32
// CHECK: arith.cmpi eq, %[[A]], %[[N]]
// CHECK: } score {
attn.spec @kept mask {
  %q = attn.index "q" : i32
  %p = attn.param "shift" slot 0 : i32
  %c16 = arith.constant 16 : i32
  %cm4 = arith.constant -4 : i32
  %a = arith.divsi %p, %c16 : i32
  %b = arith.remsi %p, %c16 : i32
  %same = arith.cmpi eq, %a, %b : i32
  %abs = math.absi %p : i32
  %near = arith.cmpi sle, %abs, %c16 : i32
  %n = arith.divsi %q, %cm4 : i32
  %aq = math.absi %n : i32
  %neg = arith.cmpi sle, %aq, %cm4 : i32
  %shared = math.absi %n : i32
  %small = arith.cmpi sle, %shared, %c16 : i32
  %nonneg = arith.cmpi eq, %shared, %n : i32
  %both = arith.andi %same, %near : i1
  %three = arith.andi %both, %neg : i1
  %four = arith.andi %three, %small : i1
  %keep = arith.andi %four, %nonneg : i1
  attn.yield %keep : i1
} score {
  %s = attn.score : f32
  attn.yield %s : f32
} out {
  %o = attn.out : f32
  attn.yield %o : f32
} route {
}

// The unsigned division lowers to C's operator on unsigned operands.
// EMITC-LABEL: emitc.func @attnc_mask(
// EMITC: emitc.cast %arg3 : i32 to ui32
// EMITC: %[[D:.*]] = emitc.div %{{.*}}, %{{.*}} : (ui32, ui32) -> ui32
// EMITC: emitc.cast %[[D]] : ui32 to i32
// EMITC: emitc.rem %{{.*}}, %{{.*}} : (ui32, ui32) -> ui32
