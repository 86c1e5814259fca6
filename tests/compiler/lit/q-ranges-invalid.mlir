// RUN: %not %attnc-opt --attn-q-ranges %s 2>&1 | %FileCheck %s
// The pass builds one function per module: two specs are an error, not a guess.
// CHECK: error: attn-q-ranges expects one attn.spec per module

attn.spec @first mask {
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

attn.spec @second mask {
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
