// Register-blocked float32 step kernels for `lstm.cpp`'s time loops (AVX-512; elsewhere `available()`
// is false and lstm.cpp keeps its BLAS path).
//
// At small shapes one step's GEMM (S1: h (32, 50) by W_hh^T (50, 200)) is too small for BLAS to reach
// its speed: MKL's sgemm ran it at 25-43 GFLOP/s. Here the weights are packed once per call into
// panels of 64 columns, k-major, so a tile of R rows x 64 columns lives in 4R AVX-512 registers while
// k runs over the panel (each k: 4 loads, R broadcasts, 4R FMAs). The forward panels interleave the
// gates, 16 units x (o, i, f, g), so a finished tile holds all four gates of 16 units: the gate math
// (lstm.cpp's, with the same exp polynomial, vectorised) runs on the registers and writes the
// activated gates, c, tanh(c) and h = o tanh(c) once. Padding units (H not a multiple of 16) have
// zero weights and masked loads and stores, so nothing outside the real buffers is read or written.
//
// The functions have external linkage (namespace lstmkit_tile): lstm.cpp declares and calls them; both
// files build into the one library.
#include <cstdint>
#include <cstring>

#ifdef __AVX512F__
#include <immintrin.h>
#endif

namespace lstmkit_tile {

constexpr int kCols = 64;  // columns of one panel: 4 AVX-512 vectors
constexpr int kRows = 6;   // rows of one tile: 24 accumulators + 4 weight vectors fit in 32 registers

// Floats of a forward gate panel set for H units and P inputs: ceil(H / 16) panels of P x 64.
int64_t gate_panels_size(int H, int P) { return int64_t((H + 15) / 16) * P * kCols; }

// Floats of a plain panel set for a (K, N) matrix: ceil(N / 64) panels of K x 64.
int64_t row_panels_size(int K, int N) { return int64_t((N + kCols - 1) / kCols) * K * kCols; }

// W (4H, P) row-major, gate blocks (o, i, f, g) -> panel u, row k: [o i f g] x 16 units (16u..16u+15).
void pack_gates(const float* w, int H, int P, float* out) {
  std::memset(out, 0, sizeof(float) * gate_panels_size(H, P));  // the padding units
  for (int q = 0; q < 4; ++q)
    for (int unit = 0; unit < H; ++unit) {  // reads each row of w once, in order
      const float* src = w + (int64_t(q) * H + unit) * P;
      float* dst = out + int64_t(unit / 16) * P * kCols + 16 * q + unit % 16;
      for (int k = 0; k < P; ++k) dst[int64_t(k) * kCols] = src[k];
    }
}

// W (K, N) row-major -> panel p, row k: W[k, 64p .. 64p + 63], zero past N.
void pack_rows(const float* w, int K, int N, float* out) {
  const int NP = (N + kCols - 1) / kCols;
  for (int p = 0; p < NP; ++p)
    for (int k = 0; k < K; ++k)
      for (int j = 0; j < kCols; ++j) {
        const int col = kCols * p + j;
        out[(int64_t(p) * K + k) * kCols + j] = col < N ? w[int64_t(k) * N + col] : 0.0f;
      }
}

#ifdef __AVX512F__

bool available() { return true; }

namespace {

// lstm.cpp's exp_poly(float), 16 lanes: the same range reduction and Cephes polynomial.
inline __m512 exp16(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(88.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(p, n);  // p 2^n
}

// 1 / d: the 14-bit estimate and one Newton step (error about 1 float ulp); a division costs more
// than the rest of the gate math at S1.
inline __m512 recip16(__m512 d) {
  const __m512 r = _mm512_rcp14_ps(d);
  return _mm512_fmadd_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(1.0f)), r);
}

inline __m512 sigmoid16(__m512 x) {
  return recip16(_mm512_add_ps(_mm512_set1_ps(1.0f), exp16(_mm512_sub_ps(_mm512_setzero_ps(), x))));
}

inline __m512 tanh16(__m512 x) {  // 1 - 2 / (1 + e^{2x})
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 e = exp16(_mm512_add_ps(x, x));
  return _mm512_fnmadd_ps(_mm512_set1_ps(2.0f), recip16(_mm512_add_ps(one, e)), one);
}

// acc[r][v] += sum_k a[r * lda + k] * w[n * stride + k * 64 + 16 (v % 4)], n = v / 4: R rows by N
// panels. N > 1 keeps more FMA chains in flight where R is small (at B = 1, four accumulators
// waited on the FMA latency: 32 GFLOP/s).
template <int R, int N>
inline void tile(const float* a, int64_t lda, int K, const float* w, int64_t stride, __m512 (&acc)[R][4 * N]) {
  for (int k = 0; k < K; ++k) {
    __m512 wv[4 * N];
#pragma GCC unroll 16
    for (int v = 0; v < 4 * N; ++v) wv[v] = _mm512_loadu_ps(w + (v / 4) * stride + int64_t(k) * kCols + 16 * (v % 4));
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512 ar = _mm512_set1_ps(a[r * lda + k]);
#pragma GCC unroll 16
      for (int v = 0; v < 4 * N; ++v) acc[r][v] = _mm512_fmadd_ps(ar, wv[v], acc[r][v]);
    }
  }
}

inline __mmask16 lanes(int left) { return left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1); }

// One forward tile: rows 0..R-1 (of h, G, ...) by units 16u .. 16(u + N) - 1; see forward_gates.
template <int R, int N>
void forward_tile(const float* h, int P, int H, const float* packed, int u, float* G, float* C, float* TC,
                  float* Rout, const float* c_prev) {
  __m512 acc[R][4 * N];
  const int64_t H4 = 4 * int64_t(H), stride = int64_t(P) * kCols;
  for (int r = 0; r < R; ++r)
    for (int n = 0; n < N; ++n)
      for (int q = 0; q < 4; ++q)
        acc[r][4 * n + q] = _mm512_maskz_loadu_ps(lanes(H - 16 * (u + n)), G + r * H4 + q * H + 16 * (u + n));
  tile<R, N>(h, P, P, packed + u * stride, stride, acc);
  for (int r = 0; r < R; ++r)
    for (int n = 0; n < N; ++n) {
      const __mmask16 m = lanes(H - 16 * (u + n));
      float* g = G + r * H4 + 16 * (u + n);
      const int64_t row = int64_t(r) * H + 16 * (u + n);
      const __m512* a = acc[r] + 4 * n;
      const __m512 o = sigmoid16(a[0]), i = sigmoid16(a[1]), f = sigmoid16(a[2]), gc = tanh16(a[3]);
      const __m512 c = _mm512_fmadd_ps(f, _mm512_maskz_loadu_ps(m, c_prev + row), _mm512_mul_ps(i, gc));
      const __m512 tc = tanh16(c);
      _mm512_mask_storeu_ps(g, m, o);
      _mm512_mask_storeu_ps(g + H, m, i);
      _mm512_mask_storeu_ps(g + 2 * H, m, f);
      _mm512_mask_storeu_ps(g + 3 * H, m, gc);
      _mm512_mask_storeu_ps(C + row, m, c);
      _mm512_mask_storeu_ps(TC + row, m, tc);
      _mm512_mask_storeu_ps(Rout + row, m, _mm512_mul_ps(o, tc));
    }
}

// Panels in groups of N (the widest that keeps the accumulators in registers), then one at a time.
template <int R>
void forward_rows(const float* h, int P, int H, const float* packed, float* G, float* C, float* TC, float* Rout,
                  const float* c_prev) {
  constexpr int N = R == 1 ? 4 : (R <= 3 ? 2 : 1);
  const int U = (H + 15) / 16;
  int u = 0;
  for (; u + N <= U; u += N) forward_tile<R, N>(h, P, H, packed, u, G, C, TC, Rout, c_prev);
  for (; u < U; ++u) forward_tile<R, 1>(h, P, H, packed, u, G, C, TC, Rout, c_prev);
}

template <int R, int N>
void gemm_tile(const float* a, int64_t lda, int K, int cols, const float* packed, int p, float* c, int64_t ldc) {
  __m512 acc[R][4 * N];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < 4 * N; ++v) acc[r][v] = _mm512_setzero_ps();
  const int64_t stride = int64_t(K) * kCols;
  tile<R, N>(a, lda, K, packed + p * stride, stride, acc);
  for (int v = 0; v < 4 * N; ++v) {
    const int left = cols - kCols * p - 16 * v;  // panels are consecutive: v runs across them
    if (left <= 0) break;
    for (int r = 0; r < R; ++r) _mm512_mask_storeu_ps(c + r * ldc + kCols * p + 16 * v, lanes(left), acc[r][v]);
  }
}

template <int R>
void gemm_rows(const float* a, int64_t lda, int K, int cols, const float* packed, float* c, int64_t ldc) {
  constexpr int N = R == 1 ? 4 : (R <= 3 ? 2 : 1);
  const int NP = (cols + kCols - 1) / kCols;
  int p = 0;
  for (; p + N <= NP; p += N) gemm_tile<R, N>(a, lda, K, cols, packed, p, c, ldc);
  for (; p < NP; ++p) gemm_tile<R, 1>(a, lda, K, cols, packed, p, c, ldc);
}

}  // namespace
// One forward step for B rows: G (B, 4H) holds the input projection (x W_ih^T + b) on entry and the
// activated gates (o, i, f, g) on return; h (B, P) is h_{t-1}, c_prev (B, H) is c_{t-1};
// writes C, TC (B, H) and Rout (B, H): h_t = o tanh(c_t). packed: pack_gates(W_hh).
void forward_gates(const float* h, int B, int P, int H, const float* packed, float* G, float* C, float* TC,
                   float* Rout, const float* c_prev) {
  const int64_t H4 = 4 * int64_t(H);
  int b = 0;
  for (; b + kRows <= B; b += kRows)
    forward_rows<kRows>(h + int64_t(b) * P, P, H, packed, G + b * H4, C + int64_t(b) * H, TC + int64_t(b) * H,
                        Rout + int64_t(b) * H, c_prev + int64_t(b) * H);
  const int64_t o = b;
  const float *ho = h + o * P, *co = c_prev + o * H;
  float *go = G + o * H4, *Co = C + o * H, *To = TC + o * H, *Ro = Rout + o * H;
  switch (B - b) {
    case 1: forward_rows<1>(ho, P, H, packed, go, Co, To, Ro, co); break;
    case 2: forward_rows<2>(ho, P, H, packed, go, Co, To, Ro, co); break;
    case 3: forward_rows<3>(ho, P, H, packed, go, Co, To, Ro, co); break;
    case 4: forward_rows<4>(ho, P, H, packed, go, Co, To, Ro, co); break;
    case 5: forward_rows<5>(ho, P, H, packed, go, Co, To, Ro, co); break;
    default: break;
  }
}

// c (B, N), row stride ldc = a (B, K), row stride lda, times W (K, N); packed: pack_rows(W).
void gemm(const float* a, int64_t lda, int B, int K, int N, const float* packed, float* c, int64_t ldc) {
  int b = 0;
  for (; b + kRows <= B; b += kRows) gemm_rows<kRows>(a + b * lda, lda, K, N, packed, c + b * ldc, ldc);
  const float *ao = a + b * lda;
  float* co = c + b * ldc;
  switch (B - b) {
    case 1: gemm_rows<1>(ao, lda, K, N, packed, co, ldc); break;
    case 2: gemm_rows<2>(ao, lda, K, N, packed, co, ldc); break;
    case 3: gemm_rows<3>(ao, lda, K, N, packed, co, ldc); break;
    case 4: gemm_rows<4>(ao, lda, K, N, packed, co, ldc); break;
    case 5: gemm_rows<5>(ao, lda, K, N, packed, co, ldc); break;
    default: break;
  }
}

#else  // no AVX-512: lstm.cpp never calls these

bool available() { return false; }
void forward_gates(const float*, int, int, int, const float*, float*, float*, float*, float*, const float*) {}
void gemm(const float*, int64_t, int, int, int, const float*, float*, int64_t) {}

#endif

}  // namespace lstmkit_tile
