// RUN: %attnc-opt %s --canonicalize --cse | %FileCheck %s
// Constant folding through the attn ops and the division guard.

// CHECK-LABEL: attn.spec @fold mask {
// A guarded division by the constant 64 folds to a plain divsi.
// CHECK: %[[Q:.*]] = attn.index "q" : i32
// CHECK-NOT: arith.select
// CHECK: %[[QB:.*]] = arith.divsi %[[Q]], %c64_i32 : i32
// Repeated index ops are merged (CSE) and int(2.75) folds to 2.
// CHECK: arith.cmpi sge, %[[QB]], %c2_i32 : i32
// CHECK: } score {
attn.spec @fold mask {
  %q = attn.index "q" : i32
  %d = arith.constant 64 : i32
  %zero = arith.constant 0 : i32
  %one = arith.constant 1 : i32
  %m1 = arith.constant -1 : i32
  %isZero = arith.cmpi eq, %d, %zero : i32
  %isM1 = arith.cmpi eq, %d, %m1 : i32
  %special = arith.ori %isZero, %isM1 : i1
  %safe = arith.select %special, %one, %d : i32
  %plain = arith.divsi %q, %safe : i32
  %neg = arith.subi %zero, %q : i32
  %nz = arith.select %isM1, %neg, %plain : i32
  %qb = arith.select %isZero, %zero, %nz : i32
  %f = arith.constant 2.75 : f32
  %i = attn.to_int %f : f32 -> i32
  %q2 = attn.index "q" : i32
  %c = arith.cmpi sge, %qb, %i : i32
  attn.yield %c : i1
} score {
  %s = attn.score : f32
  attn.yield %s : f32
} out {
  %o = attn.out : f32
  attn.yield %o : f32
} route {
}

// -----
// CHECK-LABEL: attn.spec @to_int_edges
// NaN -> 0 (so 0 + INT_MAX folds to INT_MAX), saturating at the Int range.
// CHECK-DAG: %[[MIN:.*]] = arith.constant -2147483648 : i32
// CHECK-DAG: %[[MAX:.*]] = arith.constant 2147483647 : i32
// CHECK-NOT: attn.to_int
// CHECK: arith.cmpi slt, %{{.*}}, %[[MAX]] : i32
// CHECK: arith.cmpi sgt, %{{.*}}, %[[MIN]] : i32
attn.spec @to_int_edges mask {
  %nan = arith.constant 0x7FC00000 : f32
  %big = arith.constant 1.0e+20 : f32
  %small = arith.constant -1.0e+20 : f32
  %a = attn.to_int %nan : f32 -> i32
  %b = attn.to_int %big : f32 -> i32
  %c = attn.to_int %small : f32 -> i32
  %ab = arith.addi %a, %b : i32
  %q = attn.index "q" : i32
  %x = arith.cmpi slt, %q, %ab : i32
  %y = arith.cmpi sgt, %q, %c : i32
  %r = arith.andi %x, %y : i1
  attn.yield %r : i1
} score {
  %s = attn.score : f32
  attn.yield %s : f32
} out {
  %o = attn.out : f32
  attn.yield %o : f32
} route {
}
