// RUN: %attnc-opt %s -split-input-file --attn-route-geometry | %FileCheck %s
// RUN: %attnc-opt %s -split-input-file --attn-route-geometry --canonicalize | %FileCheck %s --check-prefix=FOLD
// block_of and num_blocks of the route's partition, ahead of the spec.

// 1-D blocks: block_of(t) = t / 512; num_blocks = (kv_len - 1) / 512 + 1, 1 if kv_len <= 0.
// CHECK-LABEL: func.func @attnc_route_block_of(
// CHECK-SAME: %{{.*}}: !emitc.opaque<"const AttncArgs &">, %[[T:.*]]: i32) -> i32
// CHECK: %[[B:.*]] = arith.constant 512 : i32
// CHECK: %[[BLK:.*]] = arith.divsi %[[T]], %[[B]] : i32
// CHECK: return %[[BLK]] : i32
// CHECK-LABEL: func.func @attnc_route_num_blocks(
// CHECK-SAME: %{{.*}}: !emitc.opaque<"const AttncArgs &">) -> i32
// CHECK: %[[KV:.*]] = attn.shape "kv_len" : i32
// CHECK: %[[LAST:.*]] = arith.subi %[[KV]], %{{.*}} : i32
// CHECK: %[[MAX:.*]] = arith.divsi %[[LAST]], %{{.*}} : i32
// CHECK: %[[ANY:.*]] = arith.cmpi sgt, %[[KV]], %{{.*}} : i32
// CHECK: %[[SEL:.*]] = arith.select %[[ANY]], %[[MAX]], %{{.*}} : i32
// CHECK: %[[N:.*]] = arith.addi %[[SEL]], %{{.*}} : i32
// CHECK: return %[[N]] : i32
// CHECK: attn.spec @blocks
attn.spec @blocks attributes {route_block = array<i64: 512>, route_per = "token", route_query_block = 1 : i64, route_select = "top", route_select_arg = 3.0 : f64} mask {
  %t = arith.constant true
  attn.yield %t : i1
} score {
  %s = attn.score : f32
  attn.yield %s : f32
} out {
  %o = attn.out : f32
  attn.yield %o : f32
} route {
  %d = attn.route_dot : f64
  %f = arith.constant false
  attn.yield %d, %f, %f : f64, i1, i1
}

// -----

// Tiles (2, 2, 3) over grid (3, 5, 7): coordinates t / 35, (t / 7) % 5, t % 7; block
// counts ceil(5 / 2) = 3 and ceil(7 / 3) = 3; row-major ((bc0 * 3) + bc1) * 3 + bc2.
// CHECK-LABEL: func.func @attnc_route_block_of(
// CHECK-SAME: %[[T:[a-z0-9]+]]: i32) -> i32
// CHECK: %[[C35:.*]] = arith.constant 35 : i32
// CHECK: %[[A0:.*]] = arith.divsi %[[T]], %[[C35]] : i32
// CHECK: %[[BC0:.*]] = arith.divsi %[[A0]], %{{.*}} : i32
// CHECK: %[[C7:.*]] = arith.constant 7 : i32
// CHECK: %[[A1Q:.*]] = arith.divsi %[[T]], %[[C7]] : i32
// CHECK: %[[C5:.*]] = arith.constant 5 : i32
// CHECK: %[[A1:.*]] = arith.remsi %[[A1Q]], %[[C5]] : i32
// CHECK: %[[BC1:.*]] = arith.divsi %[[A1]], %{{.*}} : i32
// CHECK: %[[A2:.*]] = arith.remsi %[[T]], %{{.*}} : i32
// CHECK: %[[C3:.*]] = arith.constant 3 : i32
// CHECK: %[[BC2:.*]] = arith.divsi %[[A2]], %[[C3]] : i32
// CHECK: %[[R0:.*]] = arith.muli %[[BC0]], %{{.*}} : i32
// CHECK: %[[R1:.*]] = arith.addi %[[R0]], %[[BC1]] : i32
// CHECK: %[[R2:.*]] = arith.muli %[[R1]], %{{.*}} : i32
// CHECK: %[[R3:.*]] = arith.addi %[[R2]], %[[BC2]] : i32
// CHECK: return %[[R3]] : i32
// num_blocks: the coordinates of kv_len - 1; an axis whose coordinate is not a multiple
// of its tile size frees the later axes (they reach their last block, (n - 1) / s = 2).
// CHECK-LABEL: func.func @attnc_route_num_blocks(
// CHECK: %[[KV:.*]] = attn.shape "kv_len" : i32
// CHECK: %[[LAST:.*]] = arith.subi %[[KV]], %{{.*}} : i32
// CHECK: %[[NO:.*]] = arith.constant false
// CHECK: %[[C0:.*]] = arith.divsi %[[LAST]], %{{.*}} : i32
// CHECK: %[[M0:.*]] = arith.divsi %[[C0]], %{{.*}} : i32
// CHECK: %[[REM0:.*]] = arith.remsi %[[C0]], %{{.*}} : i32
// CHECK: %[[OFF0:.*]] = arith.cmpi ne, %[[REM0]], %{{.*}} : i32
// CHECK: %[[FREE1:.*]] = arith.ori %[[NO]], %[[OFF0]] : i1
// CHECK: %[[C1:.*]] = arith.remsi %{{.*}}, %{{.*}} : i32
// CHECK: %[[TIGHT1:.*]] = arith.divsi %[[C1]], %{{.*}} : i32
// CHECK: %[[TWO:.*]] = arith.constant 2 : i32
// CHECK: %[[M1:.*]] = arith.select %[[FREE1]], %[[TWO]], %[[TIGHT1]] : i32
// CHECK: %[[REM1:.*]] = arith.remsi %[[C1]], %{{.*}} : i32
// CHECK: %[[OFF1:.*]] = arith.cmpi ne, %[[REM1]], %{{.*}} : i32
// CHECK: %[[FREE2:.*]] = arith.ori %[[FREE1]], %[[OFF1]] : i1
// CHECK: %[[TIGHT2:.*]] = arith.divsi %{{.*}}, %{{.*}} : i32
// CHECK: %[[M2:.*]] = arith.select %[[FREE2]], %{{.*}}, %[[TIGHT2]] : i32
// CHECK: %[[S0:.*]] = arith.muli %[[M0]], %{{.*}} : i32
// CHECK: %[[S1:.*]] = arith.addi %[[S0]], %[[M1]] : i32
// CHECK: %[[S2:.*]] = arith.muli %[[S1]], %{{.*}} : i32
// CHECK: %[[S3:.*]] = arith.addi %[[S2]], %[[M2]] : i32
// CHECK: %[[ANY:.*]] = arith.cmpi sgt, %[[KV]], %{{.*}} : i32
// CHECK: arith.select %[[ANY]], %[[S3]], %{{.*}} : i32
// CHECK: attn.spec @tiles

// FOLD-LABEL: func.func @attnc_route_block_of(
// FOLD-LABEL: func.func @attnc_route_num_blocks(
// FOLD-NOT: arith.ori %false
// FOLD: attn.spec @tiles
attn.spec @tiles attributes {route_block = array<i64: 2, 2, 3>, route_grid = array<i64: 3, 5, 7>, route_per = "head", route_query_block = 1 : i64, route_select = "threshold", route_select_arg = 0.5 : f64} mask {
  %t = arith.constant true
  attn.yield %t : i1
} score {
  %s = attn.score : f32
  attn.yield %s : f32
} out {
  %o = attn.out : f32
  attn.yield %o : f32
} route {
  %d = attn.route_dot : f64
  %f = arith.constant false
  attn.yield %d, %f, %f : f64, i1, i1
}

// -----

// No route: nothing is added.
// CHECK-NOT: func.func
// CHECK: attn.spec @unrouted
attn.spec @unrouted mask {
  %t = arith.constant true
  attn.yield %t : i1
} score {
  %s = attn.score : f32
  attn.yield %s : f32
} out {
  %o = attn.out : f32
  attn.yield %o : f32
} route {
}
