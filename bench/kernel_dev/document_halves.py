#!/usr/bin/env python3
"""Tile classes of document_causal at the benchmark shape (16 random documents in 16384
tokens): 128-row x BN-key tiles, and the classes of their two 64-row halves (one per sm90
consumer warpgroup). CPU only: python3 bench/kernel_dev/document_halves.py"""
import numpy as np
N=16384; rng=np.random.default_rng(1)
def cls(doc, q0,q1,k0,k1):
    # rows q0..q1, keys k0..k1 inclusive; mask doc eq & q>=k
    q=np.arange(q0,q1+1)[:,None]; k=np.arange(k0,k1+1)[None,:]
    m=(doc[q]==doc[k])&(q>=k)
    return 'E' if not m.any() else ('F' if m.all() else 'P')
for trial in range(3):
    cuts=np.sort(rng.permutation(N-1)[:15]+1)
    lengths=np.diff(np.concatenate([[0],cuts,[N]]))
    doc=np.repeat(np.arange(16),lengths)
    for BN in (64,128):
        cur={'F':0,'P':0}; half={'E':0,'F':0,'P':0}
        for q0 in range(0,N,128):
            for k0 in range(0,q0+128,BN):
                c=cls(doc,q0,q0+127,k0,k0+BN-1)
                if c=='E': continue
                cur[c]+=1
                for h in (0,64):
                    half[cls(doc,q0+h,q0+h+63,k0,k0+BN-1)]+=1
        tot=cur['F']+cur['P']
        print(trial,BN,'tiles',tot,'partial%.2f'%(cur['P']/tot),'halves',half,'skip %.3f'%(half['E']/(2*tot)), 'halfpartial %.3f'%(half['P']/(2*tot)))
