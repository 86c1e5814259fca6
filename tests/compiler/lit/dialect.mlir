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
