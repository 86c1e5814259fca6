// Host model of the sm_90a backward's key-block pairing (runtime/kernels/attention/
// key_block_pairs.cuh and BackwardSm90::writeQueryIntervals), compiled after a program's hooks
// (pairing_sim.sh pastes them first): per 64-key block the query intervals, trimmed to the
// 64-aligned query tiles the classifier keeps; per window of 32 blocks the sorted pairs when they
// cover fewer query tiles than the adjacent ones. Counts the (query tile, key tile) steps the
// key-tile kernel visits with 128-key tiles of adjacent blocks and with the pairing, how many
// pairs are not adjacent, and the bound no pairing beats: each block's own steps (half a step
// each in 128-key work). Index-only programs (no input tensors); one batch, equal lengths.
//   usage: pairing_sim M HEADS [N]     (M: the query tile, 64 or 80)
#include <algorithm>
#include <vector>

int main(int argc, char **argv) {
  AttncArgs a;
  memset(&a, 0, sizeof a);
  const int M = argc > 1 ? atoi(argv[1]) : 64, heads = argc > 2 ? atoi(argv[2]) : 1;
  a.batch = 1;
  a.heads = a.kv_heads = 16;
  a.q_len = a.kv_len = argc > 3 ? atoi(argv[3]) : 16384;
  a.head_dim = 128;
  constexpr int kBlock = 64, kWindow = 32, kMax = ATTNC_MAX_KV_RANGES;
  const int nBlocks = (a.kv_len + kBlock - 1) / kBlock;
  const auto isEmpty = [&](int h, int qLo, int qHi, int kLo, int kHi) {
    return (attnc_classify(a, 0, h, qLo, qHi, kLo, kHi) & 3) == ATTNC_TILE_EMPTY;
  };
  long adjacentSteps = 0, pairedSteps = 0, apart = 0, ownSteps = 0;
  for (int h = 0; h < heads; ++h) {
    // The intervals of each block, trimmed as writeQueryIntervals trims them.
    std::vector<std::vector<std::pair<int, int>>> blocks(nBlocks);
    for (int bl = 0; bl < nBlocks; ++bl) {
      const int k0 = bl * kBlock, kHi = std::min(k0 + kBlock, a.kv_len) - 1;
      int lo[kMax], hi[kMax];
      const int n = std::min(attnc_q_ranges(a, 0, h, k0, kHi, lo, hi), kMax);
      for (int i = 0; i < n; ++i) {
        int l = std::max(lo[i], 0), r = std::min(hi[i], a.q_len);
        for (int s = 0;
             s < 16 && l < r && isEmpty(h, l, std::min((l / 64 + 1) * 64, r) - 1, k0, kHi); ++s)
          l = std::min((l / 64 + 1) * 64, r);
        for (int s = 0;
             s < 16 && l < r && isEmpty(h, std::max((r - 1) / 64 * 64, l), r - 1, k0, kHi); ++s)
          r = std::max((r - 1) / 64 * 64, l);
        if (l < r)
          blocks[bl].push_back({l, r});
      }
    }
    // Steps of one key tile: the M-query tiles walked from each interval's start (united over
    // its blocks) that some block keeps.
    const auto steps = [&](int x, int y) {
      std::vector<std::pair<int, int>> u = blocks[x];
      if (y < nBlocks)
        u.insert(u.end(), blocks[y].begin(), blocks[y].end());
      std::sort(u.begin(), u.end());
      std::vector<std::pair<int, int>> merged;
      for (auto iv : u)
        if (!merged.empty() && iv.first <= merged.back().second)
          merged.back().second = std::max(merged.back().second, iv.second);
        else
          merged.push_back(iv);
      long n = 0;
      for (auto [l, r] : merged)
        for (int q = l; q < r; q += M) {
          const int qHi = std::min(q + M, a.q_len) - 1;
          bool kept = !isEmpty(h, q, qHi, x * kBlock, std::min(x * kBlock + kBlock, a.kv_len) - 1);
          if (y < nBlocks)
            kept = kept ||
                   !isEmpty(h, q, qHi, y * kBlock, std::min(y * kBlock + kBlock, a.kv_len) - 1);
          n += kept;
        }
      return n;
    };
    const auto cover = [&](int x, int y) { // query tiles of 64 in the union, as the rule counts
      std::vector<char> in(a.q_len / kBlock + 1, 0);
      for (int b : {x, y})
        if (b < nBlocks)
          for (auto [l, r] : blocks[b])
            for (int t = l / kBlock; t < (r + kBlock - 1) / kBlock; ++t)
              in[t] = 1;
      return (long)std::count(in.begin(), in.end(), 1);
    };
    for (int w = 0; w * kWindow < nBlocks; ++w) {
      std::vector<unsigned long long> keys;
      for (int lane = 0; lane < kWindow; ++lane) {
        const int bl = w * kWindow + lane;
        unsigned long long key = ~0ull << 5 | (unsigned)lane;
        if (bl < nBlocks) {
          int first = 0x7fffffff, end = 0;
          for (auto [l, r] : blocks[bl]) {
            first = std::min(first, l);
            end = std::max(end, r);
          }
          if (end == 0)
            first = 0;
          key = (unsigned long long)((end + kBlock - 1) / kBlock) << 37 |
                (unsigned long long)(first / kBlock) << 5 | (unsigned)lane;
        }
        keys.push_back(key);
      }
      std::sort(keys.begin(), keys.end());
      const int pairs = (std::min(kWindow, nBlocks - w * kWindow) + 1) / 2;
      long gain = 0;
      for (int p = 0; p < pairs; ++p) {
        const int sx = w * kWindow + int(keys[2 * p] & 31),
                  sy = w * kWindow + int(keys[2 * p + 1] & 31);
        gain += cover(w * kWindow + 2 * p, w * kWindow + 2 * p + 1) -
                cover(std::min(sx, sy), std::max(sx, sy));
      }
      for (int bl = w * kWindow; bl < std::min(nBlocks, (w + 1) * kWindow); ++bl)
        ownSteps += steps(bl, nBlocks); // the block alone
      for (int p = 0; p < pairs; ++p) {
        const int nx = w * kWindow + 2 * p;
        int x = nx, y = nx + 1;
        if (gain > 0) {
          const int sx = w * kWindow + int(keys[2 * p] & 31),
                    sy = w * kWindow + int(keys[2 * p + 1] & 31);
          x = std::min(sx, sy);
          y = std::max(sx, sy);
        }
        apart += y != x + 1;
        adjacentSteps += steps(nx, nx + 1);
        pairedSteps += steps(x, y);
      }
    }
  }
  printf("query tile %d, %d head(s), N %d: key-tile steps adjacent %ld, paired %ld (%.3f), pairs "
         "apart %ld; each block alone %ld steps of 64 keys (%.3f of adjacent in 128-key "
         "work)\n",
         M, heads, a.q_len, adjacentSteps, pairedSteps, double(pairedSteps) / adjacentSteps, apart,
         ownSteps, 0.5 * ownSteps / adjacentSteps);
}
