// RUN: %attnc-opt %s -split-input-file -verify-diagnostics

// expected-error @+1 {{the mask region must not be empty}}
attn.spec @no_mask mask {
} score {
  %s = attn.score : f32
  attn.yield %s : f32
} out {
  %o = attn.out : f32
  attn.yield %o : f32
} route {
}

// -----

attn.spec @bad_index mask {
  // expected-error @+1 {{unknown index 'z'}}
  %z = attn.index "z" : i32
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

// -----

attn.spec @key_in_out mask {
  %t = arith.constant true
  attn.yield %t : i1
} score {
  %s = attn.score : f32
  attn.yield %s : f32
} out {
  // expected-error @+1 {{'k' is not available in the out region}}
  %k = attn.index "k" : i32
  %o = attn.out : f32
  attn.yield %o : f32
} route {
}

// -----

attn.spec @bad_elem mask {
  %q = attn.index "q" : i32
  // expected-error @+1 {{element type f32 reads as 'f32', not 'i32'}}
  %d = attn.input_read "x" slot 0 elem "f32" [%q] : i32
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

// -----

attn.spec @score_type mask {
  %t = arith.constant true
  attn.yield %t : i1
} score {
  %t = arith.constant true
  // expected-error @+1 {{in the score region yields the wrong types}}
  attn.yield %t : i1
} out {
  %o = attn.out : f32
  attn.yield %o : f32
} route {
}

// -----

// The route's gate is float64.
attn.spec @gate_f32 attributes {route_block = array<i64: 64>} mask {
  %t = arith.constant true
  attn.yield %t : i1
} score {
  %s = attn.score : f32
  attn.yield %s : f32
} out {
  %o = attn.out : f32
  attn.yield %o : f32
} route {
  %g = arith.constant 1.0 : f32
  %f = arith.constant false
  // expected-error @+1 {{in the route region yields the wrong types}}
  attn.yield %g, %f, %f : f32, i1, i1
}

// -----

// expected-error @+1 {{route_grid needs one route_block tile size per axis}}
attn.spec @grid_rank attributes {route_block = array<i64: 16>, route_grid = array<i64: 128, 128>} mask {
  %t = arith.constant true
  attn.yield %t : i1
} score {
  %s = attn.score : f32
  attn.yield %s : f32
} out {
  %o = attn.out : f32
  attn.yield %o : f32
} route {
  %g = attn.route_dot : f64
  %f = arith.constant false
  attn.yield %g, %f, %f : f64, i1, i1
}

// -----

// expected-error @+1 {{route_block sizes must be in [1, 2^31 - 1]}}
attn.spec @block_zero attributes {route_block = array<i64: 0>} mask {
  %t = arith.constant true
  attn.yield %t : i1
} score {
  %s = attn.score : f32
  attn.yield %s : f32
} out {
  %o = attn.out : f32
  attn.yield %o : f32
} route {
  %g = attn.route_dot : f64
  %f = arith.constant false
  attn.yield %g, %f, %f : f64, i1, i1
}

// -----

attn.spec @in_range_past_rank mask {
  %q = attn.index "q" : i32
  // expected-error @+1 {{in_range names indices past the rank}}
  %d = attn.input_read "x" slot 0 elem "i32" [%q] {in_range = 2 : i32} : i32
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
