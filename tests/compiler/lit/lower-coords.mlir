// RUN: %attnc-opt %s --attn-lower-coords | %FileCheck %s
// Row-major coordinates; axis 0 is not wrapped.

// CHECK-LABEL: attn.spec @coords
// CHECK-NOT: attn.coord
// t = tokens of a (t: 16, y: 32, x: 32) grid.
// CHECK: %[[K:.*]] = attn.index "k" : i32
// CHECK: %[[C1024:.*]] = arith.constant 1024 : i32
// CHECK: %[[T:.*]] = arith.divsi %[[K]], %[[C1024]] : i32
// CHECK-NOT: arith.remsi %[[T]]
// CHECK: %[[K2:.*]] = attn.index "k" : i32
// CHECK: %[[C32:.*]] = arith.constant 32 : i32
// CHECK: %[[YQ:.*]] = arith.divsi %[[K2]], %[[C32]] : i32
// CHECK: %[[C32b:.*]] = arith.constant 32 : i32
// CHECK: %[[Y:.*]] = arith.remsi %[[YQ]], %[[C32b]] : i32
// CHECK: %[[Q:.*]] = attn.index "q" : i32
// CHECK: %[[C32c:.*]] = arith.constant 32 : i32
// CHECK: %[[X:.*]] = arith.remsi %[[Q]], %[[C32c]] : i32
attn.spec @coords mask {
  %t = attn.coord "k" axis 0 sizes [16, 32, 32] : i32
  %y = attn.coord "k" axis 1 sizes [16, 32, 32] : i32
  %x = attn.coord "q" axis 2 sizes [16, 32, 32] : i32
  %a = arith.addi %t, %y : i32
  %b = arith.cmpi slt, %a, %x : i32
  attn.yield %b : i1
} score {
  %s = attn.score : f32
  attn.yield %s : f32
} out {
  %o = attn.out : f32
  attn.yield %o : f32
} route {
}
