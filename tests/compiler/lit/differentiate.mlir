// RUN: %attnc-opt %s --split-input-file --attn-differentiate | %FileCheck %s
// One derivative rule per case: the score region below reads the score %s and an f32
// input g[h] (read site 0); attnc_score_grad is d score' / d s, attnc_score_grad_read0
// d score' / d g (after the pass's canonicalize and cse).

// CHECK-LABEL: attn.spec @add_fanout
// Fan-out: the two uses of %s accumulate, 1 + 1.
// CHECK: func.func @attnc_score_grad(%[[A:.*]]: !emitc.opaque<"const AttncArgs &">, %[[S:.*]]: f32, %{{.*}}: i32, %{{.*}}: i32, %{{.*}}: i32, %{{.*}}: i32) -> f32 {
// CHECK-NEXT: %[[TWO:.*]] = arith.constant 2.000000e+00 : f32
// CHECK-NEXT: return %[[TWO]]
// No read site: no read functions.
// CHECK-NOT: @attnc_score_grad_read
// CHECK: func.func @attnc_out_grad(
// CHECK-NEXT: %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT: return %[[ONE]]
attn.spec @add_fanout mask {
  %t = arith.constant true
  attn.yield %t : i1
} score {
  %s = attn.score : f32
  %h = attn.index "h" : i32
  %g = attn.input_read "g" slot 0 elem "f32" [%h] {in_range = 1 : i32} : f32
  %r = arith.addf %s, %s : f32
  attn.yield %r : f32
} out {
  %o = attn.out : f32
  attn.yield %o : f32
} route {
}

// -----

// CHECK-LABEL: attn.spec @sub
// CHECK: func.func @attnc_score_grad(
// CHECK-NEXT: %[[M1:.*]] = arith.constant -1.000000e+00 : f32
// CHECK-NEXT: return %[[M1]]
// The read site: its slot, rank and clamp mask; d/dg = 1; its index is the head.
// CHECK: func.func @attnc_score_grad_read0({{.*}}) -> f32 attributes {attnc.grad_of = "score", attnc.in_range = 1 : i32, attnc.rank = 1 : i32, attnc.site = 0 : i32, attnc.slot = 0 : i32} {
// CHECK-NEXT: %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT: return %[[ONE]]
// CHECK: func.func @attnc_score_read0_index0(%{{.*}}: !emitc.opaque<"const AttncArgs &">, %[[B:.*]]: i32, %[[H:.*]]: i32, %{{.*}}: i32, %{{.*}}: i32) -> i32 {
// CHECK-NEXT: return %[[H]] : i32
attn.spec @sub mask {
  %t = arith.constant true
  attn.yield %t : i1
} score {
  %s = attn.score : f32
  %h = attn.index "h" : i32
  %g = attn.input_read "g" slot 0 elem "f32" [%h] {in_range = 1 : i32} : f32
  %r = arith.subf %g, %s : f32
  attn.yield %r : f32
} out {
  %o = attn.out : f32
  attn.yield %o : f32
} route {
}

// -----

// CHECK-LABEL: attn.spec @mul
// CHECK: func.func @attnc_score_grad({{.*}}, %[[S:.*]]: f32, %{{.*}}: i32, %[[H:.*]]: i32, %{{.*}}: i32, %{{.*}}: i32) -> f32 {
// CHECK-NEXT: %[[G:.*]] = attn.input_read "g" slot 0 elem "f32"[%[[H]]]
// CHECK-NEXT: return %[[G]]
// CHECK: func.func @attnc_score_grad_read0({{.*}}, %[[S:.*]]: f32,
// CHECK-NEXT: return %[[S]]
attn.spec @mul mask {
  %t = arith.constant true
  attn.yield %t : i1
} score {
  %s = attn.score : f32
  %h = attn.index "h" : i32
  %g = attn.input_read "g" slot 0 elem "f32" [%h] {in_range = 1 : i32} : f32
  %r = arith.mulf %s, %g : f32
  attn.yield %r : f32
} out {
  %o = attn.out : f32
  attn.yield %o : f32
} route {
}

// -----

// CHECK-LABEL: attn.spec @div
// d/ds = 1 / g; d/dg = -(s / g) / g.
// CHECK: func.func @attnc_score_grad(
// CHECK: %[[G:.*]] = attn.input_read
// CHECK-NEXT: %[[D:.*]] = arith.divf %{{.*}}, %[[G]]
// CHECK-NEXT: return %[[D]]
// CHECK: func.func @attnc_score_grad_read0({{.*}}, %[[S:.*]]: f32,
// CHECK: %[[G:.*]] = attn.input_read
// CHECK-NEXT: %[[R:.*]] = arith.divf %[[S]], %[[G]]
// CHECK-NEXT: %[[Q:.*]] = arith.divf %[[R]], %[[G]]
// CHECK-NEXT: %[[N:.*]] = arith.negf %[[Q]]
// CHECK-NEXT: return %[[N]]
attn.spec @div mask {
  %t = arith.constant true
  attn.yield %t : i1
} score {
  %s = attn.score : f32
  %h = attn.index "h" : i32
  %g = attn.input_read "g" slot 0 elem "f32" [%h] {in_range = 1 : i32} : f32
  %r = arith.divf %s, %g : f32
  attn.yield %r : f32
} out {
  %o = attn.out : f32
  attn.yield %o : f32
} route {
}

// -----

// CHECK-LABEL: attn.spec @neg
// CHECK: func.func @attnc_score_grad(
// CHECK-NEXT: %[[M1:.*]] = arith.constant -1.000000e+00 : f32
// CHECK-NEXT: return %[[M1]]
attn.spec @neg mask {
  %t = arith.constant true
  attn.yield %t : i1
} score {
  %s = attn.score : f32
  %h = attn.index "h" : i32
  %g = attn.input_read "g" slot 0 elem "f32" [%h] {in_range = 1 : i32} : f32
  %r = arith.negf %s : f32
  attn.yield %r : f32
} out {
  %o = attn.out : f32
  attn.yield %o : f32
} route {
}

// -----

// CHECK-LABEL: attn.spec @rem
// d/ds = 1; d/dg = -trunc(s / g) = -(s - fmod(s, g)) / g.
// CHECK: func.func @attnc_score_grad(
// CHECK-NEXT: %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT: return %[[ONE]]
// CHECK: func.func @attnc_score_grad_read0({{.*}}, %[[S:.*]]: f32,
// CHECK: %[[G:.*]] = attn.input_read
// CHECK-NEXT: %[[R:.*]] = arith.remf %[[S]], %[[G]]
// CHECK-NEXT: %[[T:.*]] = arith.subf %[[S]], %[[R]]
// CHECK-NEXT: %[[Q:.*]] = arith.divf %[[T]], %[[G]]
// CHECK-NEXT: %[[N:.*]] = arith.negf %[[Q]]
// CHECK-NEXT: return %[[N]]
attn.spec @rem mask {
  %t = arith.constant true
  attn.yield %t : i1
} score {
  %s = attn.score : f32
  %h = attn.index "h" : i32
  %g = attn.input_read "g" slot 0 elem "f32" [%h] {in_range = 1 : i32} : f32
  %r = arith.remf %s, %g : f32
  attn.yield %r : f32
} out {
  %o = attn.out : f32
  attn.yield %o : f32
} route {
}

// -----

// CHECK-LABEL: attn.spec @select
// The taken branch gets the adjoint; the comparison is a constant.
// CHECK: func.func @attnc_score_grad({{.*}}, %[[S:.*]]: f32,
// CHECK-DAG: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-DAG: %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
// CHECK: %[[C:.*]] = arith.cmpf ogt, %[[S]], %{{.*}}
// CHECK-NEXT: %[[R:.*]] = arith.select %[[C]], %[[ONE]], %[[ZERO]]
// CHECK-NEXT: return %[[R]]
// CHECK: func.func @attnc_score_grad_read0({{.*}}, %[[S:.*]]: f32,
// CHECK-DAG: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-DAG: %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
// CHECK: %[[C:.*]] = arith.cmpf ogt, %[[S]], %{{.*}}
// CHECK-NEXT: %[[R:.*]] = arith.select %[[C]], %[[ZERO]], %[[ONE]]
// CHECK-NEXT: return %[[R]]
attn.spec @select mask {
  %t = arith.constant true
  attn.yield %t : i1
} score {
  %s = attn.score : f32
  %h = attn.index "h" : i32
  %g = attn.input_read "g" slot 0 elem "f32" [%h] {in_range = 1 : i32} : f32
  %c = arith.cmpf ogt, %s, %g : f32
  %r = arith.select %c, %s, %g : f32
  attn.yield %r : f32
} out {
  %o = attn.out : f32
  attn.yield %o : f32
} route {
}

// -----

// CHECK-LABEL: attn.spec @minnum
// min: the first operand when it is <= the second or the second is NaN (ties to the first).
// CHECK: func.func @attnc_score_grad({{.*}}, %[[S:.*]]: f32,
// CHECK-DAG: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-DAG: %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
// CHECK: %[[G:.*]] = attn.input_read
// CHECK-DAG: %[[NAN:.*]] = arith.cmpf uno, %[[G]], %[[G]]
// CHECK-DAG: %[[LE:.*]] = arith.cmpf ole, %[[S]], %[[G]]
// CHECK: %[[X:.*]] = arith.ori %[[LE]], %[[NAN]]
// CHECK-NEXT: %[[R:.*]] = arith.select %[[X]], %[[ONE]], %[[ZERO]]
// CHECK-NEXT: return %[[R]]
// CHECK: func.func @attnc_score_grad_read0(
// CHECK: arith.cmpf ole
// CHECK: %[[R:.*]] = arith.select %{{.*}}, %[[ZERO:.*]], %[[ONE:.*]] : f32
// CHECK-NEXT: return %[[R]]
attn.spec @minnum mask {
  %t = arith.constant true
  attn.yield %t : i1
} score {
  %s = attn.score : f32
  %h = attn.index "h" : i32
  %g = attn.input_read "g" slot 0 elem "f32" [%h] {in_range = 1 : i32} : f32
  %r = arith.minnumf %s, %g : f32
  attn.yield %r : f32
} out {
  %o = attn.out : f32
  attn.yield %o : f32
} route {
}

// -----

// CHECK-LABEL: attn.spec @maxnum
// CHECK: func.func @attnc_score_grad({{.*}}, %[[S:.*]]: f32,
// CHECK: %[[G:.*]] = attn.input_read
// CHECK-DAG: arith.cmpf uno, %[[G]], %[[G]]
// CHECK-DAG: arith.cmpf oge, %[[S]], %[[G]]
// CHECK: arith.select
// CHECK: func.func @attnc_score_grad_read0(
// CHECK: arith.cmpf oge
attn.spec @maxnum mask {
  %t = arith.constant true
  attn.yield %t : i1
} score {
  %s = attn.score : f32
  %h = attn.index "h" : i32
  %g = attn.input_read "g" slot 0 elem "f32" [%h] {in_range = 1 : i32} : f32
  %r = arith.maxnumf %s, %g : f32
  attn.yield %r : f32
} out {
  %o = attn.out : f32
  attn.yield %o : f32
} route {
}

// -----

// CHECK-LABEL: attn.spec @minimum
// CHECK: func.func @attnc_score_grad({{.*}}, %[[S:.*]]: f32,
// CHECK: arith.cmpf ole, %[[S]], %{{.*}}
// CHECK: arith.select
attn.spec @minimum mask {
  %t = arith.constant true
  attn.yield %t : i1
} score {
  %s = attn.score : f32
  %h = attn.index "h" : i32
  %g = attn.input_read "g" slot 0 elem "f32" [%h] {in_range = 1 : i32} : f32
  %r = arith.minimumf %s, %g : f32
  attn.yield %r : f32
} out {
  %o = attn.out : f32
  attn.yield %o : f32
} route {
}

// -----

// CHECK-LABEL: attn.spec @maximum
// CHECK: func.func @attnc_score_grad({{.*}}, %[[S:.*]]: f32,
// CHECK: arith.cmpf oge, %[[S]], %{{.*}}
// CHECK: arith.select
attn.spec @maximum mask {
  %t = arith.constant true
  attn.yield %t : i1
} score {
  %s = attn.score : f32
  %h = attn.index "h" : i32
  %g = attn.input_read "g" slot 0 elem "f32" [%h] {in_range = 1 : i32} : f32
  %r = arith.maximumf %s, %g : f32
  attn.yield %r : f32
} out {
  %o = attn.out : f32
  attn.yield %o : f32
} route {
}

// -----

// CHECK-LABEL: attn.spec @abs
// sign(s): 1, -1, and 0 at 0.
// CHECK: func.func @attnc_score_grad({{.*}}, %[[S:.*]]: f32,
// CHECK-DAG: %[[M1:.*]] = arith.constant -1.000000e+00 : f32
// CHECK-DAG: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-DAG: %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
// CHECK: %[[LT:.*]] = arith.cmpf olt, %[[S]], %[[ZERO]]
// CHECK-NEXT: %[[NEG:.*]] = arith.select %[[LT]], %[[M1]], %[[ZERO]]
// CHECK-NEXT: %[[GT:.*]] = arith.cmpf ogt, %[[S]], %[[ZERO]]
// CHECK-NEXT: %[[R:.*]] = arith.select %[[GT]], %[[ONE]], %[[NEG]]
// CHECK-NEXT: return %[[R]]
attn.spec @abs mask {
  %t = arith.constant true
  attn.yield %t : i1
} score {
  %s = attn.score : f32
  %h = attn.index "h" : i32
  %g = attn.input_read "g" slot 0 elem "f32" [%h] {in_range = 1 : i32} : f32
  %r = math.absf %s : f32
  attn.yield %r : f32
} out {
  %o = attn.out : f32
  attn.yield %o : f32
} route {
}

// -----

// CHECK-LABEL: attn.spec @exp
// CHECK: func.func @attnc_score_grad({{.*}}, %[[S:.*]]: f32,
// CHECK-NEXT: %[[E:.*]] = math.exp %[[S]]
// CHECK-NEXT: return %[[E]]
attn.spec @exp mask {
  %t = arith.constant true
  attn.yield %t : i1
} score {
  %s = attn.score : f32
  %h = attn.index "h" : i32
  %g = attn.input_read "g" slot 0 elem "f32" [%h] {in_range = 1 : i32} : f32
  %r = math.exp %s : f32
  attn.yield %r : f32
} out {
  %o = attn.out : f32
  attn.yield %o : f32
} route {
}

// -----

// CHECK-LABEL: attn.spec @exp2
// CHECK: func.func @attnc_score_grad({{.*}}, %[[S:.*]]: f32,
// CHECK-NEXT: %[[LN2:.*]] = arith.constant 0.693147182 : f32
// CHECK-NEXT: %[[E:.*]] = math.exp2 %[[S]]
// CHECK-NEXT: %[[R:.*]] = arith.mulf %[[E]], %[[LN2]]
// CHECK-NEXT: return %[[R]]
attn.spec @exp2 mask {
  %t = arith.constant true
  attn.yield %t : i1
} score {
  %s = attn.score : f32
  %h = attn.index "h" : i32
  %g = attn.input_read "g" slot 0 elem "f32" [%h] {in_range = 1 : i32} : f32
  %r = math.exp2 %s : f32
  attn.yield %r : f32
} out {
  %o = attn.out : f32
  attn.yield %o : f32
} route {
}

// -----

// CHECK-LABEL: attn.spec @log
// CHECK: func.func @attnc_score_grad({{.*}}, %[[S:.*]]: f32,
// CHECK-NEXT: %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT: %[[R:.*]] = arith.divf %[[ONE]], %[[S]]
// CHECK-NEXT: return %[[R]]
attn.spec @log mask {
  %t = arith.constant true
  attn.yield %t : i1
} score {
  %s = attn.score : f32
  %h = attn.index "h" : i32
  %g = attn.input_read "g" slot 0 elem "f32" [%h] {in_range = 1 : i32} : f32
  %r = math.log %s : f32
  attn.yield %r : f32
} out {
  %o = attn.out : f32
  attn.yield %o : f32
} route {
}

// -----

// CHECK-LABEL: attn.spec @log2
// CHECK: func.func @attnc_score_grad({{.*}}, %[[S:.*]]: f32,
// CHECK-DAG: %[[LN2:.*]] = arith.constant 0.693147182 : f32
// CHECK-DAG: %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
// CHECK: %[[D:.*]] = arith.mulf %[[S]], %[[LN2]]
// CHECK-NEXT: %[[R:.*]] = arith.divf %[[ONE]], %[[D]]
// CHECK-NEXT: return %[[R]]
attn.spec @log2 mask {
  %t = arith.constant true
  attn.yield %t : i1
} score {
  %s = attn.score : f32
  %h = attn.index "h" : i32
  %g = attn.input_read "g" slot 0 elem "f32" [%h] {in_range = 1 : i32} : f32
  %r = math.log2 %s : f32
  attn.yield %r : f32
} out {
  %o = attn.out : f32
  attn.yield %o : f32
} route {
}

// -----

// CHECK-LABEL: attn.spec @tanh
// CHECK: func.func @attnc_score_grad({{.*}}, %[[S:.*]]: f32,
// CHECK-NEXT: %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT: %[[T:.*]] = math.tanh %[[S]]
// CHECK-NEXT: %[[T2:.*]] = arith.mulf %[[T]], %[[T]]
// CHECK-NEXT: %[[R:.*]] = arith.subf %[[ONE]], %[[T2]]
// CHECK-NEXT: return %[[R]]
attn.spec @tanh mask {
  %t = arith.constant true
  attn.yield %t : i1
} score {
  %s = attn.score : f32
  %h = attn.index "h" : i32
  %g = attn.input_read "g" slot 0 elem "f32" [%h] {in_range = 1 : i32} : f32
  %r = math.tanh %s : f32
  attn.yield %r : f32
} out {
  %o = attn.out : f32
  attn.yield %o : f32
} route {
}

// -----

// CHECK-LABEL: attn.spec @sqrt
// CHECK: func.func @attnc_score_grad({{.*}}, %[[S:.*]]: f32,
// CHECK-DAG: %[[TWO:.*]] = arith.constant 2.000000e+00 : f32
// CHECK-DAG: %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
// CHECK: %[[Q:.*]] = math.sqrt %[[S]]
// CHECK-NEXT: %[[D:.*]] = arith.mulf %[[Q]], %[[TWO]]
// CHECK-NEXT: %[[R:.*]] = arith.divf %[[ONE]], %[[D]]
// CHECK-NEXT: return %[[R]]
attn.spec @sqrt mask {
  %t = arith.constant true
  attn.yield %t : i1
} score {
  %s = attn.score : f32
  %h = attn.index "h" : i32
  %g = attn.input_read "g" slot 0 elem "f32" [%h] {in_range = 1 : i32} : f32
  %r = math.sqrt %s : f32
  attn.yield %r : f32
} out {
  %o = attn.out : f32
  attn.yield %o : f32
} route {
}

// -----

// CHECK-LABEL: attn.spec @powf
// d/ds = g * s^(g - 1); d/dg = s^g * log(s).
// CHECK: func.func @attnc_score_grad({{.*}}, %[[S:.*]]: f32,
// CHECK: %[[G:.*]] = attn.input_read
// CHECK-NEXT: %[[GM1:.*]] = arith.subf %[[G]], %{{.*}}
// CHECK-NEXT: %[[P:.*]] = math.powf %[[S]], %[[GM1]]
// CHECK-NEXT: %[[R:.*]] = arith.mulf %[[G]], %[[P]]
// CHECK-NEXT: return %[[R]]
// CHECK: func.func @attnc_score_grad_read0({{.*}}, %[[S:.*]]: f32,
// CHECK: %[[G:.*]] = attn.input_read
// CHECK-NEXT: %[[P:.*]] = math.powf %[[S]], %[[G]]
// CHECK-NEXT: %[[L:.*]] = math.log %[[S]]
// CHECK-NEXT: %[[R:.*]] = arith.mulf %[[P]], %[[L]]
// CHECK-NEXT: return %[[R]]
attn.spec @powf mask {
  %t = arith.constant true
  attn.yield %t : i1
} score {
  %s = attn.score : f32
  %h = attn.index "h" : i32
  %g = attn.input_read "g" slot 0 elem "f32" [%h] {in_range = 1 : i32} : f32
  %r = math.powf %s, %g : f32
  attn.yield %r : f32
} out {
  %o = attn.out : f32
  attn.yield %o : f32
} route {
}

// -----

// CHECK-LABEL: attn.spec @sigmoid
// sigmoid as the builder lowers it, 1 / (1 + exp(-s)): the chain through divf, addf, exp, negf.
// CHECK: func.func @attnc_score_grad({{.*}}, %[[S:.*]]: f32,
// CHECK: %[[N:.*]] = arith.negf %[[S]]
// CHECK-NEXT: %[[E:.*]] = math.exp %[[N]]
// CHECK-NEXT: %[[D:.*]] = arith.addf %[[E]], %{{.*}}
// CHECK-NEXT: %[[R:.*]] = arith.divf %{{.*}}, %[[D]]
// CHECK-NEXT: %[[Q:.*]] = arith.divf %[[R]], %[[D]]
// CHECK-NEXT: %[[DD:.*]] = arith.negf %[[Q]]
// CHECK-NEXT: %[[M:.*]] = arith.mulf %[[DD]], %[[E]]
// CHECK-NEXT: %[[DS:.*]] = arith.negf %[[M]]
// CHECK-NEXT: return %[[DS]]
attn.spec @sigmoid mask {
  %t = arith.constant true
  attn.yield %t : i1
} score {
  %s = attn.score : f32
  %h = attn.index "h" : i32
  %g = attn.input_read "g" slot 0 elem "f32" [%h] {in_range = 1 : i32} : f32
  %one = arith.constant 1.0 : f32
  %n = arith.negf %s : f32
  %e = math.exp %n : f32
  %d = arith.addf %one, %e : f32
  %r = arith.divf %one, %d : f32
  attn.yield %r : f32
} out {
  %o = attn.out : f32
  attn.yield %o : f32
} route {
}

// -----

// CHECK-LABEL: attn.spec @sitofp
// An Int converted to Float is a constant: d/ds = float(q - k).
// CHECK: func.func @attnc_score_grad({{.*}}, %[[S:.*]]: f32, %{{.*}}: i32, %{{.*}}: i32, %[[Q:.*]]: i32, %[[K:.*]]: i32) -> f32 {
// CHECK-NEXT: %[[I:.*]] = arith.subi %[[Q]], %[[K]]
// CHECK-NEXT: %[[F:.*]] = arith.sitofp %[[I]]
// CHECK-NEXT: return %[[F]]
attn.spec @sitofp mask {
  %t = arith.constant true
  attn.yield %t : i1
} score {
  %s = attn.score : f32
  %h = attn.index "h" : i32
  %g = attn.input_read "g" slot 0 elem "f32" [%h] {in_range = 1 : i32} : f32
  %q = attn.index "q" : i32
  %k = attn.index "k" : i32
  %i = arith.subi %q, %k : i32
  %f = arith.sitofp %i : i32 to f32
  %r = arith.mulf %s, %f : f32
  attn.yield %r : f32
} out {
  %o = attn.out : f32
  attn.yield %o : f32
} route {
}
