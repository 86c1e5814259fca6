// RUN: %attnc-opt %s | %attnc-opt | %FileCheck %s

// CHECK-LABEL: attn.spec @doc mask {
// CHECK: attn.input_read "doc" slot 0 elem "i32"[%{{.*}}, %{{.*}}] : i32
// CHECK: attn.coord "k" axis 0 sizes [128, 128] : i32
// CHECK: attn.param "window" slot 0 : i32
// CHECK: } score {
// CHECK: attn.score : f32
// CHECK: } out {
// CHECK: attn.index "c" : i32
// CHECK: } route {
// CHECK-NEXT: }
attn.spec @doc mask {
  %b = attn.index "b" : i32
  %q = attn.index "q" : i32
  %d = attn.input_read "doc" slot 0 elem "i32" [%b, %q] : i32
  %y = attn.coord "k" axis 0 sizes [128, 128] : i32
  %w = attn.param "window" slot 0 : i32
  %s = arith.addi %d, %y : i32
  %c = arith.cmpi slt, %s, %w : i32
  attn.yield %c : i1
} score {
  %s = attn.score : f32
  attn.yield %s : f32
} out {
  %o = attn.out : f32
  %c = attn.index "c" : i32
  attn.yield %o : f32
} route {
}

// A route: f64 gate, block_of, the partition attributes.
// CHECK-LABEL: attn.spec @routed attributes {route_block = array<i64: 16, 16>, route_grid = array<i64: 128, 128>, route_per = "query_block", route_query_block = 64 : i64, route_select = "threshold", route_select_arg = 2.500000e-01 : f64}
// CHECK: } route {
// CHECK: %[[DOT:.*]] = attn.route_dot : f64
// CHECK: %[[OWN:.*]] = attn.block_of %{{.*}} : i32
// CHECK: %[[I:.*]] = attn.to_int %[[DOT]] : f64 -> i32
// CHECK: attn.yield %[[DOT]], %{{.*}}, %{{.*}} : f64, i1, i1
attn.spec @routed attributes {route_block = array<i64: 16, 16>, route_grid = array<i64: 128, 128>, route_per = "query_block", route_query_block = 64 : i64, route_select = "threshold", route_select_arg = 0.25 : f64} mask {
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
  %q = attn.index "q" : i32
  %blk = attn.index "blk" : i32
  %own = attn.block_of %q : i32
  %i = attn.to_int %d : f64 -> i32
  %a = arith.cmpi eq, %blk, %own : i32
  %n = arith.cmpi slt, %i, %blk : i32
  attn.yield %d, %a, %n : f64, i1, i1
}
