"""Compiled (numba) kernels of the MCC comparison: the local similarities and the one-to-one
pair selection of LSS-R, for one probe against a batch of candidates.

They compute what the vectorized numpy code in `mcc` computes (`_block_similarity` over angle
windows, `_greedy_distinct`), bit for bit: integer bit counts, then the same float32 operations
in the same order (each float64 step below is rounded to float32, which for one +, -, *, / or
sqrt of float32 operands gives the correctly rounded float32 result). The numpy code stays the
reference the tests compare these with (tests/test_matching_fingerprint_kernels.py).

Why compiled: the numpy code computes each pair's counts as whole-matrix passes per 64-bit
word (24 + 4 + 12 passes over (n, m) temporaries) and the pair selection as one full argmax
per pair taken; per pair, a loop can stop at the first failed test (direction, then common
area) and never touches memory twice. Measured: docs/decisions/23-cross-sensor.md (speed).
"""
from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import intrinsic


@intrinsic
def _popcount(typingctx, x):
    """The number of set bits of a uint64 (LLVM's ctpop: one instruction on x86-64 with POPCNT)."""
    if x != types.uint64:
        return None

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])

    return types.uint64(types.uint64), codegen


@njit(cache=True, nogil=True)
def local_similarities(a_bits, a_mask, a_theta, a_full, a_cnt, b_bits, b_mask, b_theta, b_full, b_cnt,
                       n_cyl, min_common, delta_theta, out):
    """Bit-based MCC similarity of probe cylinders (a_*: (na, words), (na, mask words), (na,))
    with each candidate's cylinders (b_*: (P, C, ...)), into out (P, na, C) float32 (zeroed by
    the caller; padded slots stay 0).

    A pair is comparable when the directions differ by at most delta_theta (float32) and the
    common valid area has at least min_common cells. *_full: the cylinder's valid area is the
    whole disc (then |x & mask_full| = |x| = *_cnt, float32)."""
    na, nw = a_bits.shape
    mw = a_mask.shape[1]
    P = b_bits.shape[0]
    two_pi = np.float32(2.0 * np.pi)
    f32 = np.float32
    for p in range(P):
        for j in range(n_cyl[p]):
            tb = b_theta[p, j]
            for i in range(na):
                d = abs(f32(a_theta[i] - tb))
                d = min(d, f32(two_pi - d))
                if not d <= delta_theta:
                    continue
                common = np.uint64(0)
                for w in range(mw):
                    common += _popcount(a_mask[i, w] & b_mask[p, j, w])
                if not common >= min_common:
                    continue
                ab = np.uint64(0)
                for w in range(nw):
                    ab += _popcount(a_bits[i, w] & b_bits[p, j, w])
                if b_full[p, j]:
                    amb = a_cnt[i]
                else:
                    c = np.uint64(0)
                    for w in range(nw):
                        c += _popcount(a_bits[i, w] & b_mask[p, j, w % mw])
                    amb = f32(c)
                if a_full[i]:
                    bma = b_cnt[p, j]
                else:
                    c = np.uint64(0)
                    for w in range(nw):
                        c += _popcount(b_bits[p, j, w] & a_mask[i, w % mw])
                    bma = f32(c)
                xor = f32(f32(amb + bma) - f32(f32(2.0) * f32(ab)))
                xor = f32(np.sqrt(max(xor, f32(0.0))))
                denom = f32(f32(np.sqrt(amb)) + f32(np.sqrt(bma)))
                if not denom > f32(1e-5):
                    continue
                denom = max(denom, f32(1e-6))
                out[p, i, j] = f32(f32(1.0) - f32(xor / denom))


@njit(cache=True, nogil=True)
def _radix_sort(vals, idx, n, n_bytes, tmp_v, tmp_i, count):
    """Sort vals[:n] (non-negative, below 256**n_bytes) ascending, stably, carrying idx along
    (least significant byte first; counting sorts are stable)."""
    for b in range(n_bytes):
        shift = 8 * b
        count[:] = 0
        for r in range(n):
            count[((vals[r] >> shift) & 255) + 1] += 1
        for c in range(1, 257):
            count[c] += count[c - 1]
        for r in range(n):
            d = (vals[r] >> shift) & 255
            tmp_v[count[d]] = vals[r]
            tmp_i[count[d]] = idx[r]
            count[d] += 1
        vals[:n] = tmp_v[:n]
        idx[:n] = tmp_i[:n]


@njit(cache=True, nogil=True)
def greedy_distinct(lam, k, quantized, top, vals):
    """The k best pairs of each comparison of lam (P, na, C), greedily, each minutia of either
    side used once, into top (P, k) int64 flat indices i * C + j and vals (P, k) float32 (the
    exact similarities; 0 and index 0 where fewer than k pairs are taken).

    quantized: rank on rint(lam * 32000) as the batched numpy code does (`mcc._greedy_distinct`,
    ties to the lower flat index), else on lam itself (its one-comparison path, ties likewise).
    Taking the best remaining pair again and again is the same as scanning the pairs sorted by
    (-key, index) and skipping those whose minutiae are used: the pairs are listed in index
    order and sorted stably on the key (a positive float32's bit pattern orders as the float
    does), by a radix sort (its few passes are far cheaper than a comparison sort here)."""
    P, na, C = lam.shape
    used_a = np.zeros(na, np.bool_)
    used_b = np.zeros(C, np.bool_)
    m = na * C
    key = np.empty(m, np.int64)
    idx = np.empty(m, np.int64)
    tmp_k = np.empty(m, np.int64)
    tmp_i = np.empty(m, np.int64)
    count = np.zeros(257, np.int64)
    bits = lam.view(np.int32)
    for p in range(P):
        n = 0
        for i in range(na):
            for j in range(C):
                v = lam[p, i, j]
                if quantized:
                    q = np.int64(np.rint(np.float32(v * np.float32(32000.0))))
                    if q > 0:
                        key[n] = np.int64(32767) - q
                        idx[n] = i * C + j
                        n += 1
                elif v > 0:
                    key[n] = np.int64(0x7FFFFFFF) - np.int64(bits[p, i, j])
                    idx[n] = i * C + j
                    n += 1
        _radix_sort(key, idx, n, 2 if quantized else 4, tmp_k, tmp_i, count)
        used_a[:] = False
        used_b[:] = False
        t = 0
        for r in range(n):
            if t == k:
                break
            f = idx[r]
            i = f // C
            j = f % C
            if used_a[i] or used_b[j]:
                continue
            used_a[i] = True
            used_b[j] = True
            top[p, t] = f
            vals[p, t] = lam[p, i, j]
            t += 1


@njit(cache=True, nogil=True)
def _abs_diff32(a, b):
    f32 = np.float32
    d = abs(f32(a - b))
    return min(d, f32(f32(2.0 * np.pi) - d))


@njit(cache=True, nogil=True)
def _wrap_once32(d):
    f32 = np.float32
    pi, two_pi = f32(np.pi), f32(2.0 * np.pi)
    if d >= pi:
        d = f32(d - two_pi)
    if d < -pi:
        d = f32(d + two_pi)
    return d


@njit(cache=True, nogil=True)
def lss_r_pairs(top, lam0, n_r, C, dist_a, dir_a, na, b_xyt, d1_cut, ia, jb, live, lam, sel, d1s, d2s,
                dxs, dys, tbs, idxs):
    """First half of LSS-R for P comparisons (one probe against P candidates) from their
    selected pairs (`greedy_distinct`: top, lam0 (P, K)), as `mcc.lss_r` computes it: the pairs'
    minutiae (ia, jb), which are live, their similarities (lam, 0 where not live), and for every
    two live pairs t != k whose distances agree within d1_cut: the flat index p*K*K + t*K + k
    (sel), the distance and direction terms d1, d2, the candidate segment (dx, dy), theta_t and
    the probe table index (idxs) for the terms numpy computes. Returns how many (m).
    dist_a, dir_a: the probe's pairwise tables (na * na,); b_xyt (P, C, 3)."""
    f32 = np.float32
    P, K = top.shape
    m = 0
    for p in range(P):
        for t in range(K):
            ia[p, t] = top[p, t] // C
            jb[p, t] = top[p, t] % C
            live[p, t] = t < n_r[p] and lam0[p, t] > 0
            lam[p, t] = lam0[p, t] if live[p, t] else f32(0.0)
        for t in range(K):
            if not live[p, t]:
                continue
            bx, by, bt = b_xyt[p, jb[p, t], 0], b_xyt[p, jb[p, t], 1], b_xyt[p, jb[p, t], 2]
            for k in range(K):
                if k == t or not live[p, k]:
                    continue
                dx = f32(b_xyt[p, jb[p, k], 0] - bx)
                dy = f32(b_xyt[p, jb[p, k], 1] - by)
                d1 = f32(np.sqrt(f32(f32(dx * dx) + f32(dy * dy))))
                idx = ia[p, t] * na + ia[p, k]
                d1 = abs(f32(d1 - dist_a[idx]))
                if not d1 < d1_cut:
                    continue
                sel[m] = (p * K + t) * K + k
                d1s[m] = d1
                d2s[m] = _abs_diff32(dir_a[idx], _wrap_once32(f32(bt - b_xyt[p, jb[p, k], 2])))
                dxs[m] = dx
                dys[m] = dy
                tbs[m] = bt
                idxs[m] = idx
                m += 1
    return m


@njit(cache=True, nogil=True)
def lss_r_relax(sel, r, live, lam, n_r, w_r, n_rel, n_p_max, h, score, ia, jb, ia_out, jb_out, w_out, n_p_out):
    """Second half of LSS-R (after `lss_r_pairs` and the compatibility r of its pairs): the
    relaxation of the pairs' similarities, then the mean of the n_P most efficient. Writes
    score (P,), the h most efficient pairs (ia_out, jb_out (P, h); w_out their relaxed
    similarity, 0 beyond n_P) and n_p_out (P,). The same float32 operations as `mcc.lss_r`, but
    its sums (matrix product, mean) run in another order: scores agree to float32 rounding."""
    f32 = np.float32
    P, K = lam.shape
    lam_i = np.empty(K, np.float32)
    nxt = np.empty(K, np.float32)
    eff = np.empty(K, np.float64)
    row_start = np.zeros(K + 1, np.int64)
    q = 0
    for p in range(P):
        scale = f32(f32(f32(1.0) - w_r) / f32(max(n_r[p] - 1, 1)))
        base = p * K * K
        # this comparison's nonzero rho entries are sel[q0:q1] (ascending: row t, then column k);
        # the products with the zero entries add nothing, so they are skipped
        q0 = q
        while q < len(sel) and sel[q] < base + K * K:
            q += 1
        row_start[:] = q
        for e in range(q - 1, q0 - 1, -1):
            row_start[(sel[e] - base) // K] = e
        for t in range(K - 1, -1, -1):
            row_start[t] = min(row_start[t], row_start[t + 1])
        n_live = 0
        for t in range(K):
            lam_i[t] = lam[p, t]
            n_live += live[p, t]
        for _ in range(n_rel):
            for t in range(K):
                s = f32(0.0)
                for e in range(row_start[t], row_start[t + 1]):
                    s = f32(s + f32(f32(r[e] * scale) * lam_i[(sel[e] - base) % K]))
                nxt[t] = f32(f32(w_r * lam_i[t]) + s)
            for t in range(K):
                lam_i[t] = nxt[t]
        for t in range(K):
            lt = lam[p, t]
            eff[t] = -f32(lam_i[t] / (lt if lt > 0 else f32(1.0))) if live[p, t] else 1.0
        best = np.argsort(eff, kind="mergesort")
        n_p = min(n_p_max[p], n_live)
        total = f32(0.0)
        for i in range(n_p):
            total = f32(total + lam_i[best[i]])
        score[p] = f32(total / n_p) if n_p > 0 else f32(0.0)
        n_p_out[p] = n_p
        for i in range(min(h, K)):
            ia_out[p, i] = ia[p, best[i]]
            jb_out[p, i] = jb[p, best[i]]
            w_out[p, i] = lam_i[best[i]] if i < n_p else f32(0.0)


@njit(cache=True, nogil=True)
def pair_minutiae(ax, ay, inv_tol2, ca, sa, bx, by, bc, bs, r2, cos_max, n_pair, near_a, near_b):
    """The counts of `pairing.paired_fraction` for P comparisons, bit for bit: the probe's
    minutiae aligned on each candidate (ax, ay, (P, na) float32; ca, sa the cos and sin of their
    aligned directions; inv_tol2 = 1 / tol**2 at each), the candidates' minutiae (bx, by, bc,
    bs (P, C) float32, padded slots far away). Per comparison: minutiae of each side within
    sqrt(r2) of the other side (near_a, near_b), and mutual nearest compatible pairs within
    the tolerance (n_pair)."""
    f32 = np.float32
    P, na = ax.shape
    C = bx.shape[1]
    d = np.empty((na, C), np.float32)
    col_near = np.empty(C, np.bool_)
    col_min = np.empty(C, np.float32)
    rb = np.empty(na, np.int64)
    big = f32(1e30)
    for p in range(P):
        col_near[:] = False
        n_near_a = 0
        for i in range(na):
            row_near = False
            for j in range(C):
                dx = f32(ax[p, i] - bx[p, j])
                dy = f32(ay[p, i] - by[p, j])
                v = f32(f32(dx * dx) + f32(dy * dy))
                if v <= r2:
                    row_near = True
                    col_near[j] = True
                v = f32(v * inv_tol2[p, i])
                cos_d = f32(f32(ca[p, i] * bc[p, j]) + f32(sa[p, i] * bs[p, j]))
                if cos_d < cos_max:
                    v = max(v, big)
                d[i, j] = v
            n_near_a += row_near
        n_near_b = 0
        for j in range(C):
            n_near_b += col_near[j]
            col_min[j] = d[0, j]
        for i in range(na):
            best = 0
            for j in range(C):
                if d[i, j] < d[i, best]:
                    best = j
                if d[i, j] < col_min[j]:
                    col_min[j] = d[i, j]
            rb[i] = best
        n = 0
        for i in range(na):
            v = d[i, rb[i]]
            if v <= 1.0 and v <= col_min[rb[i]]:
                n += 1
        n_pair[p] = n
        near_a[p] = n_near_a
        near_b[p] = n_near_b
