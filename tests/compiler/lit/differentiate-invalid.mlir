// RUN: %attnc-opt %s --split-input-file --attn-differentiate --verify-diagnostics
// Ops on the derivative path without a rule: errors at their locations.

attn.spec @floor mask {
  %t = arith.constant true
  attn.yield %t : i1
} score {
  %s = attn.score : f32
  // expected-error @+1 {{'floor' in the score expression is not differentiable}}
  %f = math.floor %s : f32
  %r = arith.addf %s, %f : f32
  attn.yield %r : f32
} out {
  %o = attn.out : f32
  attn.yield %o : f32
} route {
}

// -----

// int() of a float input read that reaches the output (through sitofp).
attn.spec @to_int mask {
  %t = arith.constant true
  attn.yield %t : i1
} score {
  %s = attn.score : f32
  %h = attn.index "h" : i32
  %g = attn.input_read "g" slot 0 elem "f32" [%h] : f32
  // expected-error @+1 {{'int()' in the score expression is not differentiable}}
  %i = attn.to_int %g : f32 -> i32
  %f = arith.sitofp %i : i32 to f32
  %r = arith.addf %s, %f : f32
  attn.yield %r : f32
} out {
  %o = attn.out : f32
  attn.yield %o : f32
} route {
}

// -----

// An op without a derivative rule, in the out region.
attn.spec @sin mask {
  %t = arith.constant true
  attn.yield %t : i1
} score {
  %s = attn.score : f32
  attn.yield %s : f32
} out {
  %o = attn.out : f32
  // expected-error @+1 {{'math.sin' in the out expression is not differentiable}}
  %r = math.sin %o : f32
  attn.yield %r : f32
} route {
}

// -----

// Fine: floor of an Int-only value, int() of a read whose result the output does not
// need, and a comparison of the score choosing between constants.
attn.spec @constants mask {
  %t = arith.constant true
  attn.yield %t : i1
} score {
  %s = attn.score : f32
  %q = attn.index "q" : i32
  %h = attn.index "h" : i32
  %g = attn.input_read "g" slot 0 elem "f32" [%h] : f32
  %unused = attn.to_int %g : f32 -> i32
  %qf = arith.sitofp %q : i32 to f32
  %fl = math.floor %qf : f32
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %c = arith.cmpf ogt, %s, %zero : f32
  %step = arith.select %c, %one, %zero : f32
  %a = arith.addf %s, %fl : f32
  %r = arith.addf %a, %step : f32
  attn.yield %r : f32
} out {
  %o = attn.out : f32
  attn.yield %o : f32
} route {
}
