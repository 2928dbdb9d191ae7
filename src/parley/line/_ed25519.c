/*
 * parley.line._ed25519 -- Ed25519 signature verification (RFC 8032), one signature or a batch.
 *
 * The criterion, single and batch alike (RFC 8032 section 5.1.7, cofactored, strict decoding):
 *   A (32 bytes), R || S (64 bytes); A and R decoded as in section 5.1.3 (y < p, x^2 a square,
 *   no "negative zero" x); S < L; k = SHA-512(R || A || M) mod L; accept iff [8][S]B == [8]R + [8][k]A.
 * A batch of n signatures, with random nonzero 128-bit z_i, is accepted iff
 *   [8]( -[(sum z_i S_i) mod L] B + sum [z_i] R_i + sum_{distinct A} [(sum_{A_i = A} z_i k_i) mod L] A ) == O.
 * For n = 1 the two agree exactly (z_1 is invertible mod L and [8]P has order 1 or L); for n > 1 a batch
 * holding a signature that fails the single check passes with probability at most about 2^-127 (given
 * the others' z, at most one value of its z mod L cancels its error term).
 *
 * NOT CONSTANT TIME, on purpose: verification only ever handles public data (keys, signatures,
 * messages), so windows, table look-ups, branches and early exits depend freely on that data.
 * Do not reuse any of this code for signing or for anything that touches a secret.
 *
 * Contents
 *   1. SHA-512 (FIPS 180-4)
 *   2. The field GF(p), p = 2^255 - 19, in radix 2^51 (five 64-bit limbs, products in unsigned __int128)
 *   3. Scalars modulo L = 2^252 + 27742317777372353535851937790883648493 (Barrett reduction)
 *   4. The curve -x^2 + y^2 = 1 + d x^2 y^2 in extended coordinates (Hisil, Wong, Carter, Dawson 2008)
 *   5. Strict decoding (RFC 8032 5.1.3), encoding, scalar recoding, tables
 *   6. Multi-scalar multiplication: Straus (interleaved wNAF) and Pippenger (signed buckets)
 *   7. Verification: single and batch
 *   8. The Python module (copies the inputs under the GIL, computes without it)
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if !defined(__SIZEOF_INT128__)
#error "parley.line._ed25519 needs a compiler with unsigned __int128 (64-bit gcc or clang)"
#endif

__extension__ typedef unsigned __int128 u128;

#define INLINE static inline __attribute__((always_inline))
/* The field multiplication and squaring stay out of line: inlined into the point formulas they made
 * gcc spill its 128-bit column sums, which cost more than the calls (measured). */
#define NOINLINE __attribute__((noinline))

/* ============================================================================================ */
/* 1. SHA-512 (FIPS 180-4)                                                                      */
/* ============================================================================================ */

static uint64_t load64_be(const uint8_t *p)
{
    return ((uint64_t)p[0] << 56) | ((uint64_t)p[1] << 48) | ((uint64_t)p[2] << 40) | ((uint64_t)p[3] << 32) |
           ((uint64_t)p[4] << 24) | ((uint64_t)p[5] << 16) | ((uint64_t)p[6] << 8) | (uint64_t)p[7];
}

static void store64_be(uint8_t *p, uint64_t x)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)x;
        x >>= 8;
    }
}

static uint64_t load64_le(const uint8_t *p)
{
    return (uint64_t)p[0] | ((uint64_t)p[1] << 8) | ((uint64_t)p[2] << 16) | ((uint64_t)p[3] << 24) |
           ((uint64_t)p[4] << 32) | ((uint64_t)p[5] << 40) | ((uint64_t)p[6] << 48) | ((uint64_t)p[7] << 56);
}

static void store64_le(uint8_t *p, uint64_t x)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)x;
        x >>= 8;
    }
}

/* The first 64 bits of the fractional parts of the cube roots of the first 80 primes (FIPS 180-4 4.2.3). */
static const uint64_t SHA512_K[80] = {
    0x428a2f98d728ae22ULL, 0x7137449123ef65cdULL, 0xb5c0fbcfec4d3b2fULL, 0xe9b5dba58189dbbcULL,
    0x3956c25bf348b538ULL, 0x59f111f1b605d019ULL, 0x923f82a4af194f9bULL, 0xab1c5ed5da6d8118ULL,
    0xd807aa98a3030242ULL, 0x12835b0145706fbeULL, 0x243185be4ee4b28cULL, 0x550c7dc3d5ffb4e2ULL,
    0x72be5d74f27b896fULL, 0x80deb1fe3b1696b1ULL, 0x9bdc06a725c71235ULL, 0xc19bf174cf692694ULL,
    0xe49b69c19ef14ad2ULL, 0xefbe4786384f25e3ULL, 0x0fc19dc68b8cd5b5ULL, 0x240ca1cc77ac9c65ULL,
    0x2de92c6f592b0275ULL, 0x4a7484aa6ea6e483ULL, 0x5cb0a9dcbd41fbd4ULL, 0x76f988da831153b5ULL,
    0x983e5152ee66dfabULL, 0xa831c66d2db43210ULL, 0xb00327c898fb213fULL, 0xbf597fc7beef0ee4ULL,
    0xc6e00bf33da88fc2ULL, 0xd5a79147930aa725ULL, 0x06ca6351e003826fULL, 0x142929670a0e6e70ULL,
    0x27b70a8546d22ffcULL, 0x2e1b21385c26c926ULL, 0x4d2c6dfc5ac42aedULL, 0x53380d139d95b3dfULL,
    0x650a73548baf63deULL, 0x766a0abb3c77b2a8ULL, 0x81c2c92e47edaee6ULL, 0x92722c851482353bULL,
    0xa2bfe8a14cf10364ULL, 0xa81a664bbc423001ULL, 0xc24b8b70d0f89791ULL, 0xc76c51a30654be30ULL,
    0xd192e819d6ef5218ULL, 0xd69906245565a910ULL, 0xf40e35855771202aULL, 0x106aa07032bbd1b8ULL,
    0x19a4c116b8d2d0c8ULL, 0x1e376c085141ab53ULL, 0x2748774cdf8eeb99ULL, 0x34b0bcb5e19b48a8ULL,
    0x391c0cb3c5c95a63ULL, 0x4ed8aa4ae3418acbULL, 0x5b9cca4f7763e373ULL, 0x682e6ff3d6b2b8a3ULL,
    0x748f82ee5defb2fcULL, 0x78a5636f43172f60ULL, 0x84c87814a1f0ab72ULL, 0x8cc702081a6439ecULL,
    0x90befffa23631e28ULL, 0xa4506cebde82bde9ULL, 0xbef9a3f7b2c67915ULL, 0xc67178f2e372532bULL,
    0xca273eceea26619cULL, 0xd186b8c721c0c207ULL, 0xeada7dd6cde0eb1eULL, 0xf57d4f7fee6ed178ULL,
    0x06f067aa72176fbaULL, 0x0a637dc5a2c898a6ULL, 0x113f9804bef90daeULL, 0x1b710b35131c471bULL,
    0x28db77f523047d84ULL, 0x32caab7b40c72493ULL, 0x3c9ebe0a15c9bebcULL, 0x431d67c49c100d4cULL,
    0x4cc5d4becb3e42b6ULL, 0x597f299cfc657e2aULL, 0x5fcb6fab3ad6faecULL, 0x6c44198c4a475817ULL,
};

/* The first 64 bits of the fractional parts of the square roots of the first 8 primes (FIPS 180-4 5.3.5). */
static const uint64_t SHA512_H0[8] = {
    0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
    0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL, 0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
};

typedef struct {
    uint64_t h[8];   /* chaining value */
    uint64_t total;  /* bytes absorbed so far (a message is far below 2^61 bytes) */
    size_t fill;     /* bytes waiting in buf, 0..127 */
    uint8_t buf[128];
} sha512_ctx;

#define ROTR64(x, n) (((x) >> (n)) | ((x) << (64 - (n))))
#define BSIG0(x) (ROTR64(x, 28) ^ ROTR64(x, 34) ^ ROTR64(x, 39))
#define BSIG1(x) (ROTR64(x, 14) ^ ROTR64(x, 18) ^ ROTR64(x, 41))
#define SSIG0(x) (ROTR64(x, 1) ^ ROTR64(x, 8) ^ ((x) >> 7))
#define SSIG1(x) (ROTR64(x, 19) ^ ROTR64(x, 61) ^ ((x) >> 6))
#define CH(x, y, z) (((x) & ((y) ^ (z))) ^ (z))
#define MAJ(x, y, z) (((x) & (y)) | ((z) & ((x) | (y))))

/* One round; the caller rotates the names of the eight working variables instead of moving them. */
#define SHA_ROUND(a, b, c, d, e, f, g, h, i)                                   \
    do {                                                                       \
        uint64_t t1_ = (h) + BSIG1(e) + CH(e, f, g) + SHA512_K[i] + W[i];      \
        uint64_t t2_ = BSIG0(a) + MAJ(a, b, c);                                \
        (d) += t1_;                                                            \
        (h) = t1_ + t2_;                                                       \
    } while (0)

/* The compression function applied to nblocks consecutive 128-byte blocks (FIPS 180-4 6.4.2). */
static void sha512_blocks(uint64_t st[8], const uint8_t *p, size_t nblocks)
{
    uint64_t W[80];
    while (nblocks--) {
        for (int i = 0; i < 16; i++)
            W[i] = load64_be(p + 8 * i);
        for (int i = 16; i < 80; i++)
            W[i] = SSIG1(W[i - 2]) + W[i - 7] + SSIG0(W[i - 15]) + W[i - 16];
        uint64_t a = st[0], b = st[1], c = st[2], d = st[3], e = st[4], f = st[5], g = st[6], h = st[7];
        for (int i = 0; i < 80; i += 8) {
            SHA_ROUND(a, b, c, d, e, f, g, h, i);
            SHA_ROUND(h, a, b, c, d, e, f, g, i + 1);
            SHA_ROUND(g, h, a, b, c, d, e, f, i + 2);
            SHA_ROUND(f, g, h, a, b, c, d, e, i + 3);
            SHA_ROUND(e, f, g, h, a, b, c, d, i + 4);
            SHA_ROUND(d, e, f, g, h, a, b, c, i + 5);
            SHA_ROUND(c, d, e, f, g, h, a, b, i + 6);
            SHA_ROUND(b, c, d, e, f, g, h, a, i + 7);
        }
        st[0] += a; st[1] += b; st[2] += c; st[3] += d;
        st[4] += e; st[5] += f; st[6] += g; st[7] += h;
        p += 128;
    }
}

static void sha512_init(sha512_ctx *ctx)
{
    memcpy(ctx->h, SHA512_H0, sizeof ctx->h);
    ctx->total = 0;
    ctx->fill = 0;
}

static void sha512_update(sha512_ctx *ctx, const uint8_t *data, size_t len)
{
    ctx->total += len;
    if (ctx->fill) {
        size_t take = 128 - ctx->fill < len ? 128 - ctx->fill : len;
        memcpy(ctx->buf + ctx->fill, data, take);
        ctx->fill += take;
        data += take;
        len -= take;
        if (ctx->fill < 128)
            return; /* len is 0 here */
        sha512_blocks(ctx->h, ctx->buf, 1);
        ctx->fill = 0;
    }
    if (len >= 128) {
        sha512_blocks(ctx->h, data, len / 128);
        data += len & ~(size_t)127;
        len &= 127;
    }
    if (len) {
        memcpy(ctx->buf, data, len);
        ctx->fill = len;
    }
}

/* Padding: 0x80, zeros, and the message length in bits as a 128-bit big-endian number. */
static void sha512_final(sha512_ctx *ctx, uint8_t out[64])
{
    ctx->buf[ctx->fill++] = 0x80;
    if (ctx->fill > 112) {
        memset(ctx->buf + ctx->fill, 0, 128 - ctx->fill);
        sha512_blocks(ctx->h, ctx->buf, 1);
        ctx->fill = 0;
    }
    memset(ctx->buf + ctx->fill, 0, 112 - ctx->fill);
    store64_be(ctx->buf + 112, ctx->total >> 61);
    store64_be(ctx->buf + 120, ctx->total << 3);
    sha512_blocks(ctx->h, ctx->buf, 1);
    for (int i = 0; i < 8; i++)
        store64_be(out + 8 * i, ctx->h[i]);
}

/* ============================================================================================ */
/* 2. The field GF(p), p = 2^255 - 19                                                            */
/* ============================================================================================ */
/*
 * An element is f0 + 2^51 f1 + 2^102 f2 + 2^153 f3 + 2^204 f4 with 64-bit limbs, not necessarily
 * reduced. Limb bounds are what keeps the arithmetic exact; the ones used below:
 *
 *   "reduced"  (fe_mul, fe_sq, fe_carry outputs): every limb < 2^51 + 2^13;
 *   "P-class"  (all point coordinates): every limb <= the same limb of 2p (2^52 - 38, 2^52 - 2, ...),
 *              so < 2^52; a reduced element is P-class, and so is 2p - f of a P-class f;
 *   mul/sq inputs: every limb < 2^54 (fe_carry128 explains why that is the limit).
 *
 * fe_add of two P-class elements is < 2^53; fe_sub(f, g) computes f + 2p - g limb by limb, which
 * needs g P-class (no limb underflows) and gives < 2^53 + 2^52 for f < 2^53.
 */
typedef struct {
    uint64_t v[5];
} fe;

#define MASK51 ((uint64_t)0x7ffffffffffffULL)
#define TWO_P0 ((uint64_t)0xfffffffffffdaULL) /* limb 0 of 2p: 2^52 - 38 */
#define TWO_P1 ((uint64_t)0xffffffffffffeULL) /* limbs 1..4 of 2p: 2^52 - 2 */

/* d = -121665/121666, 2d and sqrt(-1) = 2^((p-1)/4), reduced. */
static const fe FE_D = {{0x34dca135978a3ULL, 0x1a8283b156ebdULL, 0x5e7a26001c029ULL, 0x739c663a03cbbULL,
                         0x52036cee2b6ffULL}};
static const fe FE_D2 = {{0x69b9426b2f159ULL, 0x35050762add7aULL, 0x3cf44c0038052ULL, 0x6738cc7407977ULL,
                          0x2406d9dc56dffULL}};
static const fe FE_SQRTM1 = {{0x61b274a0ea0b0ULL, 0xd5a5fc8f189dULL, 0x7ef5e9cbd0c60ULL, 0x78595a6804c9eULL,
                              0x2b8324804fc1dULL}};
static const fe FE_ONE = {{1, 0, 0, 0, 0}};
static const fe FE_ZERO = {{0, 0, 0, 0, 0}};

INLINE void fe_add(fe *h, const fe *f, const fe *g)
{
    for (int i = 0; i < 5; i++)
        h->v[i] = f->v[i] + g->v[i];
}

/* h = f + 2p - g: no limb underflows when g is P-class. */
INLINE void fe_sub(fe *h, const fe *f, const fe *g)
{
    h->v[0] = f->v[0] + TWO_P0 - g->v[0];
    h->v[1] = f->v[1] + TWO_P1 - g->v[1];
    h->v[2] = f->v[2] + TWO_P1 - g->v[2];
    h->v[3] = f->v[3] + TWO_P1 - g->v[3];
    h->v[4] = f->v[4] + TWO_P1 - g->v[4];
}

/* h = 2p - f, P-class when f is. */
INLINE void fe_neg(fe *h, const fe *f)
{
    fe_sub(h, &FE_ZERO, f);
}

/*
 * The carry chain shared by fe_mul and fe_sq: from five 128-bit column sums r0..r4 to a reduced
 * element. Each column keeps its low 51 bits and passes the rest up; the carry out of the top column
 * is worth 2^255 = 19 (mod p), so it comes back into limb 0 times 19. With inputs < 2^54 every column
 * is < 2^115, so each carry r_i >> 51 fits in 64 bits; the top column has no factor 19, so
 * r4 < 5 * 2^108 + 2^64 < 2^110.4, its carry is < 2^59.4 and 19 times it < 2^63.7: limb 0 (< 2^51) plus
 * that stays below 2^64. The last carry, from limb 0 (< 2^12.7), leaves limb 1 < 2^51 + 2^13 and the
 * others < 2^51. (The 2^54 bound on inputs comes from here.)
 */
INLINE void fe_carry128(fe *h, u128 r0, u128 r1, u128 r2, u128 r3, u128 r4)
{
    uint64_t c;
    r1 += (uint64_t)(r0 >> 51);
    r2 += (uint64_t)(r1 >> 51);
    r3 += (uint64_t)(r2 >> 51);
    r4 += (uint64_t)(r3 >> 51);
    uint64_t h0 = (uint64_t)r0 & MASK51;
    uint64_t h1 = (uint64_t)r1 & MASK51;
    uint64_t h2 = (uint64_t)r2 & MASK51;
    uint64_t h3 = (uint64_t)r3 & MASK51;
    uint64_t h4 = (uint64_t)r4 & MASK51;
    h0 += (uint64_t)(r4 >> 51) * 19;
    c = h0 >> 51;
    h0 &= MASK51;
    h1 += c;
    h->v[0] = h0;
    h->v[1] = h1;
    h->v[2] = h2;
    h->v[3] = h3;
    h->v[4] = h4;
}

/*
 * h = f * g mod p (reduced). Inputs: limbs < 2^54. Schoolbook 5x5 product; the terms of degree
 * 5..8 (weight 2^255 and up) fold down times 19 because 2^255 = 19 mod p. 19 * g_j < 2^58.3 fits in
 * 64 bits; column 0 is the largest: f0 g0 + 19 (f1 g4 + f2 g3 + f3 g2 + f4 g1) < 77 * 2^108 < 2^115.
 */
static NOINLINE void fe_mul(fe *h, const fe *f, const fe *g)
{
    uint64_t f0 = f->v[0], f1 = f->v[1], f2 = f->v[2], f3 = f->v[3], f4 = f->v[4];
    uint64_t g0 = g->v[0], g1 = g->v[1], g2 = g->v[2], g3 = g->v[3], g4 = g->v[4];
    uint64_t g1_19 = 19 * g1, g2_19 = 19 * g2, g3_19 = 19 * g3, g4_19 = 19 * g4;
    u128 r0 = (u128)f0 * g0 + (u128)f1 * g4_19 + (u128)f2 * g3_19 + (u128)f3 * g2_19 + (u128)f4 * g1_19;
    u128 r1 = (u128)f0 * g1 + (u128)f1 * g0 + (u128)f2 * g4_19 + (u128)f3 * g3_19 + (u128)f4 * g2_19;
    u128 r2 = (u128)f0 * g2 + (u128)f1 * g1 + (u128)f2 * g0 + (u128)f3 * g4_19 + (u128)f4 * g3_19;
    u128 r3 = (u128)f0 * g3 + (u128)f1 * g2 + (u128)f2 * g1 + (u128)f3 * g0 + (u128)f4 * g4_19;
    u128 r4 = (u128)f0 * g4 + (u128)f1 * g3 + (u128)f2 * g2 + (u128)f3 * g1 + (u128)f4 * g0;
    fe_carry128(h, r0, r1, r2, r3, r4);
}

/*
 * h = f^2 mod p (reduced), 15 products instead of 25: the cross terms f_i f_j (i != j) appear twice.
 * Inputs: limbs < 2^54 (38 f_j < 2^59.3 fits in 64 bits; the columns are smaller than fe_mul's).
 *   col 0: f0^2 + 38 (f1 f4 + f2 f3)      col 1: 2 f0 f1 + 38 f2 f4 + 19 f3^2
 *   col 2: 2 f0 f2 + f1^2 + 38 f3 f4      col 3: 2 f0 f3 + 2 f1 f2 + 19 f4^2
 *   col 4: 2 f0 f4 + 2 f1 f3 + f2^2
 */
static NOINLINE void fe_sq(fe *h, const fe *f)
{
    uint64_t f0 = f->v[0], f1 = f->v[1], f2 = f->v[2], f3 = f->v[3], f4 = f->v[4];
    uint64_t f0_2 = 2 * f0, f1_2 = 2 * f1;
    uint64_t f3_19 = 19 * f3, f4_19 = 19 * f4, f3_38 = 38 * f3, f4_38 = 38 * f4;
    u128 r0 = (u128)f0 * f0 + (u128)f1 * f4_38 + (u128)f2 * f3_38;
    u128 r1 = (u128)f0_2 * f1 + (u128)f2 * f4_38 + (u128)f3 * f3_19;
    u128 r2 = (u128)f0_2 * f2 + (u128)f1 * f1 + (u128)f3 * f4_38;
    u128 r3 = (u128)f0_2 * f3 + (u128)f1_2 * f2 + (u128)f4 * f4_19;
    u128 r4 = (u128)f0_2 * f4 + (u128)f1_2 * f3 + (u128)f2 * f2;
    fe_carry128(h, r0, r1, r2, r3, r4);
}

/* h = f^(2^n), n >= 1: n squarings (the long runs of the exponentiations below). Calling the
 * out-of-line fe_sq measured faster than a loop around an inlined copy. */
static void fe_sqn(fe *h, const fe *f, int n)
{
    fe t;
    fe_sq(&t, f);
    while (--n > 0)
        fe_sq(&t, &t);
    *h = t;
}

/* Reduces any element with limbs < 2^63 to a reduced one (same value mod p), by one carry pass. */
INLINE void fe_carry(fe *h, const fe *f)
{
    uint64_t h0 = f->v[0], h1 = f->v[1], h2 = f->v[2], h3 = f->v[3], h4 = f->v[4], c;
    c = h0 >> 51; h0 &= MASK51; h1 += c;
    c = h1 >> 51; h1 &= MASK51; h2 += c;
    c = h2 >> 51; h2 &= MASK51; h3 += c;
    c = h3 >> 51; h3 &= MASK51; h4 += c;
    c = h4 >> 51; h4 &= MASK51; h0 += 19 * c;
    c = h0 >> 51; h0 &= MASK51; h1 += c;
    h->v[0] = h0; h->v[1] = h1; h->v[2] = h2; h->v[3] = h3; h->v[4] = h4;
}

/*
 * The canonical representative (0 <= value < p) of f (limbs < 2^63), as five limbs < 2^51.
 * After fe_carry the value v is < 2^255 + 2^64 < 2p. q = floor((v + 19) / 2^255) is 1 iff v >= p
 * (computed exactly by propagating the +19 through the limbs); then v + 19 q, with the bit of
 * weight 2^255 dropped, is v - q p.
 */
static void fe_canonical(uint64_t out[5], const fe *f)
{
    fe t;
    fe_carry(&t, f);
    uint64_t h0 = t.v[0], h1 = t.v[1], h2 = t.v[2], h3 = t.v[3], h4 = t.v[4], q, c;
    q = (h0 + 19) >> 51;
    q = (h1 + q) >> 51;
    q = (h2 + q) >> 51;
    q = (h3 + q) >> 51;
    q = (h4 + q) >> 51;
    h0 += 19 * q;
    c = h0 >> 51; h0 &= MASK51; h1 += c;
    c = h1 >> 51; h1 &= MASK51; h2 += c;
    c = h2 >> 51; h2 &= MASK51; h3 += c;
    c = h3 >> 51; h3 &= MASK51; h4 += c;
    h4 &= MASK51;
    out[0] = h0; out[1] = h1; out[2] = h2; out[3] = h3; out[4] = h4;
}

/* The 32-byte little-endian canonical encoding of f (bit 255 clear). */
static void fe_tobytes(uint8_t s[32], const fe *f)
{
    uint64_t h[5];
    fe_canonical(h, f);
    store64_le(s, h[0] | (h[1] << 51));
    store64_le(s + 8, (h[1] >> 13) | (h[2] << 38));
    store64_le(s + 16, (h[2] >> 26) | (h[3] << 25));
    store64_le(s + 24, (h[3] >> 39) | (h[4] << 12));
}

/* The low 255 bits of s, little-endian, as five limbs < 2^51 (bit 255 is ignored). */
static void fe_frombytes(fe *h, const uint8_t s[32])
{
    uint64_t w0 = load64_le(s), w1 = load64_le(s + 8), w2 = load64_le(s + 16), w3 = load64_le(s + 24);
    h->v[0] = w0 & MASK51;
    h->v[1] = ((w0 >> 51) | (w1 << 13)) & MASK51;
    h->v[2] = ((w1 >> 38) | (w2 << 26)) & MASK51;
    h->v[3] = ((w2 >> 25) | (w3 << 39)) & MASK51;
    h->v[4] = (w3 >> 12) & MASK51;
}

/* Whether the low 255 bits of s, as an integer, are < p (limbs 1..4 all ones and limb 0 >= 2^51 - 19
 * is exactly the range p .. 2^255 - 1). */
static int fe_bytes_canonical(const uint8_t s[32])
{
    fe h;
    fe_frombytes(&h, s);
    return !(h.v[1] == MASK51 && h.v[2] == MASK51 && h.v[3] == MASK51 && h.v[4] == MASK51 &&
             h.v[0] >= MASK51 - 18);
}

static int fe_iszero(const fe *f)
{
    uint64_t h[5];
    fe_canonical(h, f);
    return (h[0] | h[1] | h[2] | h[3] | h[4]) == 0;
}

/* The low bit of the canonical representative: the "sign" of RFC 8032. */
static int fe_isodd(const fe *f)
{
    uint64_t h[5];
    fe_canonical(h, f);
    return (int)(h[0] & 1);
}

/* out = z^(2^250 - 1) and z11 = z^11, the common start of the two exponentiations below
 * (250 squarings and 10 multiplications). */
static void fe_pow2_250_1(fe *out, fe *z11, const fe *z)
{
    fe z2, z9, t0, t1, t2;
    fe_sq(&z2, z);                 /* z^2 */
    fe_sqn(&t0, &z2, 2);           /* z^8 */
    fe_mul(&z9, &t0, z);           /* z^9 */
    fe_mul(z11, &z9, &z2);         /* z^11 */
    fe_sq(&t0, z11);               /* z^22 */
    fe_mul(&t0, &t0, &z9);         /* z^31 = z^(2^5 - 1) */
    fe_sqn(&t1, &t0, 5);
    fe_mul(&t0, &t1, &t0);         /* z^(2^10 - 1) */
    fe_sqn(&t1, &t0, 10);
    fe_mul(&t1, &t1, &t0);         /* z^(2^20 - 1) */
    fe_sqn(&t2, &t1, 20);
    fe_mul(&t1, &t2, &t1);         /* z^(2^40 - 1) */
    fe_sqn(&t1, &t1, 10);
    fe_mul(&t0, &t1, &t0);         /* z^(2^50 - 1) */
    fe_sqn(&t1, &t0, 50);
    fe_mul(&t1, &t1, &t0);         /* z^(2^100 - 1) */
    fe_sqn(&t2, &t1, 100);
    fe_mul(&t1, &t2, &t1);         /* z^(2^200 - 1) */
    fe_sqn(&t1, &t1, 50);
    fe_mul(out, &t1, &t0);         /* z^(2^250 - 1) */
}

/* h = z^(p - 2) = z^(2^255 - 21) = 1/z (0 for z = 0). */
static void fe_invert(fe *h, const fe *z)
{
    fe t, z11;
    fe_pow2_250_1(&t, &z11, z);
    fe_sqn(&t, &t, 5);             /* z^(2^255 - 32) */
    fe_mul(h, &t, &z11);           /* z^(2^255 - 21) */
}

/* h = z^((p - 5) / 8) = z^(2^252 - 3), the exponent of the square root of a ratio (RFC 8032 5.1.3). */
static void fe_pow22523(fe *h, const fe *z)
{
    fe t, z11;
    fe_pow2_250_1(&t, &z11, z);
    fe_sqn(&t, &t, 2);             /* z^(2^252 - 4) */
    fe_mul(h, &t, z);              /* z^(2^252 - 3) */
}

/* ============================================================================================ */
/* 3. Scalars modulo L                                                                           */
/* ============================================================================================ */
/* Scalars are little-endian arrays of 64-bit words. */

static const uint64_t SC_L[4] = {0x5812631a5cf5d3edULL, 0x14def9dea2f79cd6ULL, 0, 0x1000000000000000ULL};
/* mu = floor(2^512 / L), 260 bits, for Barrett reduction. */
static const uint64_t SC_MU[5] = {0xed9ce5a30a2c131bULL, 0x2106215d086329a7ULL, 0xffffffffffffffebULL,
                                  0xffffffffffffffffULL, 0xfULL};

/* Whether the 256-bit little-endian s is < L (the canonical-S rule of RFC 8032 5.1.7). */
static int sc_is_canonical(const uint8_t s[32])
{
    for (int i = 3; i >= 0; i--) {
        uint64_t w = load64_le(s + 8 * i);
        if (w != SC_L[i])
            return w < SC_L[i];
    }
    return 0; /* s == L */
}

/* 32 little-endian bytes <-> 4 words. */
static void sc_load(uint64_t r[4], const uint8_t s[32])
{
    for (int i = 0; i < 4; i++)
        r[i] = load64_le(s + 8 * i);
}

static void sc_store(uint8_t s[32], const uint64_t r[4])
{
    for (int i = 0; i < 4; i++)
        store64_le(s + 8 * i, r[i]);
}

/* Whether the 5-word r is >= L (L padded with a zero word). */
static int sc5_geq_L(const uint64_t r[5])
{
    if (r[4])
        return 1;
    for (int i = 3; i >= 0; i--)
        if (r[i] != SC_L[i])
            return r[i] > SC_L[i];
    return 1;
}

/* r -= L over 5 words (r >= L). */
static void sc5_sub_L(uint64_t r[5])
{
    uint64_t borrow = 0;
    for (int i = 0; i < 5; i++) {
        uint64_t l = i < 4 ? SC_L[i] : 0;
        u128 t = (u128)r[i] - l - borrow;
        r[i] = (uint64_t)t;
        borrow = (uint64_t)(t >> 64) & 1;
    }
}

/*
 * r = x mod L for any 512-bit x (8 words): Barrett reduction (Handbook of Applied Cryptography,
 * algorithm 14.42, base b = 2^64, k = 4 words). q3 = floor(floor(x / b^3) * mu / b^5) is at most 2 below
 * floor(x / L), so x - q3 L (computed mod b^5, where it is exact since it lies in [0, 3L)) needs at
 * most two subtractions of L.
 */
static void sc_reduce_wide(uint64_t r[4], const uint64_t x[8])
{
    uint64_t q2[10] = {0};
    for (int i = 0; i < 5; i++) {
        uint64_t carry = 0;
        for (int j = 0; j < 5; j++) {
            u128 t = (u128)x[3 + i] * SC_MU[j] + q2[i + j] + carry; /* <= (2^64-1)^2 + 2 (2^64-1) < 2^128 */
            q2[i + j] = (uint64_t)t;
            carry = (uint64_t)(t >> 64);
        }
        q2[i + 5] = carry;
    }
    const uint64_t *q3 = q2 + 5;
    uint64_t r2[5] = {0}; /* q3 * L mod b^5 */
    for (int i = 0; i < 5; i++) {
        uint64_t carry = 0;
        for (int j = 0; j < 4 && i + j < 5; j++) {
            u128 t = (u128)q3[i] * SC_L[j] + r2[i + j] + carry;
            r2[i + j] = (uint64_t)t;
            carry = (uint64_t)(t >> 64);
        }
        if (i == 0)
            r2[4] += carry;
    }
    uint64_t rr[5], borrow = 0;
    for (int i = 0; i < 5; i++) {
        u128 t = (u128)x[i] - r2[i] - borrow;
        rr[i] = (uint64_t)t;
        borrow = (uint64_t)(t >> 64) & 1;
    }
    while (sc5_geq_L(rr))
        sc5_sub_L(rr);
    memcpy(r, rr, 4 * sizeof(uint64_t));
}

/* acc (8 words) += z (2 words) * s (4 words). The caller keeps the sum below 2^512
 * (each product < 2^381; n products < 2^381 n). */
static void sc_muladd_wide(uint64_t acc[8], const uint64_t z[2], const uint64_t s[4])
{
    uint64_t p[6] = {0};
    for (int i = 0; i < 2; i++) {
        uint64_t carry = 0;
        for (int j = 0; j < 4; j++) {
            u128 t = (u128)z[i] * s[j] + p[i + j] + carry;
            p[i + j] = (uint64_t)t;
            carry = (uint64_t)(t >> 64);
        }
        p[i + 4] = carry;
    }
    uint64_t carry = 0;
    for (int i = 0; i < 8; i++) {
        u128 t = (u128)acc[i] + (i < 6 ? p[i] : 0) + carry;
        acc[i] = (uint64_t)t;
        carry = (uint64_t)(t >> 64);
    }
}

/* r = -s mod L for s < L. */
static void sc_neg(uint64_t r[4], const uint64_t s[4])
{
    if ((s[0] | s[1] | s[2] | s[3]) == 0) {
        memset(r, 0, 4 * sizeof(uint64_t));
        return;
    }
    uint64_t borrow = 0;
    for (int i = 0; i < 4; i++) {
        u128 t = (u128)SC_L[i] - s[i] - borrow;
        r[i] = (uint64_t)t;
        borrow = (uint64_t)(t >> 64) & 1;
    }
}

/* ============================================================================================ */
/* 4. The curve -x^2 + y^2 = 1 + d x^2 y^2 (a = -1)                                              */
/* ============================================================================================ */
/*
 * Extended coordinates (X : Y : Z : T) with x = X/Z, y = Y/Z, x y = T/Z; "projective" drops T;
 * "completed" (E, F, G, H) is the output of an addition or a doubling before its last four
 * multiplications: X = E F, Y = G H, Z = F G, T = E H. Converting to projective costs 3M, to
 * extended 4M, so a doubling followed by a doubling never computes T.
 * "Cached" (Y + X, Y - X, Z, 2d T) is a second operand of an addition; "niels" (y + x, y - x, 2d x y)
 * the same for an affine point (Z = 1), one multiplication cheaper to add.
 * All coordinates of projective and extended points are P-class (see section 2).
 */
typedef struct { fe X, Y, Z, T; } pt_ext;
typedef struct { fe X, Y, Z; } pt_proj;
typedef struct { fe E, F, G, H; } pt_comp;
typedef struct { fe YpX, YmX, Z, T2d; } pt_cached;
typedef struct { fe ypx, ymx, xy2d; } pt_niels;

/* The identity (0, 1): X = T = 0, Y = Z = 1. */
static void pt_ext_identity(pt_ext *p)
{
    p->X = FE_ZERO;
    p->Y = FE_ONE;
    p->Z = FE_ONE;
    p->T = FE_ZERO;
}

static void pt_proj_identity(pt_proj *p)
{
    p->X = FE_ZERO;
    p->Y = FE_ONE;
    p->Z = FE_ONE;
}

/* Completed -> projective: X = E F, Y = G H, Z = F G (3M; outputs reduced, hence P-class). */
INLINE void pt_comp_to_proj(pt_proj *r, const pt_comp *c)
{
    fe_mul(&r->X, &c->E, &c->F);
    fe_mul(&r->Y, &c->G, &c->H);
    fe_mul(&r->Z, &c->F, &c->G);
}

/* Completed -> extended: the same and T = E H (4M). */
INLINE void pt_comp_to_ext(pt_ext *r, const pt_comp *c)
{
    fe_mul(&r->X, &c->E, &c->F);
    fe_mul(&r->Y, &c->G, &c->H);
    fe_mul(&r->Z, &c->F, &c->G);
    fe_mul(&r->T, &c->E, &c->H);
}

/* Extended -> projective: drop T. */
INLINE void pt_ext_to_proj(pt_proj *r, const pt_ext *p)
{
    r->X = p->X;
    r->Y = p->Y;
    r->Z = p->Z;
}

/* Y + X and Y - X of P-class coordinates are < 2^53, 2d T is reduced: all fine as mul inputs. */
INLINE void pt_to_cached(pt_cached *c, const pt_ext *p)
{
    fe_add(&c->YpX, &p->Y, &p->X);
    fe_sub(&c->YmX, &p->Y, &p->X);
    c->Z = p->Z;
    fe_mul(&c->T2d, &p->T, &FE_D2);
}

/* -P = (-X, Y, Z, -T); stays P-class. */
static void pt_neg(pt_ext *r, const pt_ext *p)
{
    fe_neg(&r->X, &p->X);
    r->Y = p->Y;
    r->Z = p->Z;
    fe_neg(&r->T, &p->T);
}

/*
 * Doubling, dbl-2008-hwcd with a = -1 and the signs of E, F, G, H all flipped (which leaves
 * E F, G H, F G, E H unchanged): A = X^2, B = Y^2, C = 2 Z^2, H = A + B, E = H - (X + Y)^2,
 * G = A - B, F = C + G. 4S. Bounds from P-class inputs: X + Y < 2^53; H < 2^53; E < 2^53 + 2^52;
 * G < 2^53; F < 2^52 + 2^14 + G < 2^54 -- all valid multiplication inputs.
 */
INLINE void pt_dbl(pt_comp *r, const pt_proj *p)
{
    fe a, b, c, s;
    fe_sq(&a, &p->X);
    fe_sq(&b, &p->Y);
    fe_sq(&c, &p->Z);
    fe_add(&c, &c, &c);
    fe_add(&s, &p->X, &p->Y);
    fe_sq(&s, &s);
    fe_add(&r->H, &a, &b);
    fe_sub(&r->E, &r->H, &s);
    fe_sub(&r->G, &a, &b);
    fe_add(&r->F, &c, &r->G);
}

/*
 * P + Q, add-2008-hwcd-3 with k = 2d: A = (Y1 - X1)(Y2 - X2), B = (Y1 + X1)(Y2 + X2), C = T1 2d T2,
 * D = 2 Z1 Z2, E = B - A, F = D - C, G = D + C, H = B + A. 4M. A, C reduced, so the subtractions are
 * valid; E, H < 2^53, F, G < 2^54.
 */
INLINE void pt_add(pt_comp *r, const pt_ext *p, const pt_cached *q)
{
    fe a, b, c, d;
    fe_sub(&a, &p->Y, &p->X);
    fe_mul(&a, &a, &q->YmX);
    fe_add(&b, &p->Y, &p->X);
    fe_mul(&b, &b, &q->YpX);
    fe_mul(&c, &p->T, &q->T2d);
    fe_mul(&d, &p->Z, &q->Z);
    fe_add(&d, &d, &d);
    fe_sub(&r->E, &b, &a);
    fe_sub(&r->F, &d, &c);
    fe_add(&r->G, &d, &c);
    fe_add(&r->H, &b, &a);
}

/* P - Q: the same with -Q = (Y - X, Y + X, Z, -2d T) -- the two halves swapped, C negated. */
INLINE void pt_sub(pt_comp *r, const pt_ext *p, const pt_cached *q)
{
    fe a, b, c, d;
    fe_sub(&a, &p->Y, &p->X);
    fe_mul(&a, &a, &q->YpX);
    fe_add(&b, &p->Y, &p->X);
    fe_mul(&b, &b, &q->YmX);
    fe_mul(&c, &p->T, &q->T2d);
    fe_mul(&d, &p->Z, &q->Z);
    fe_add(&d, &d, &d);
    fe_sub(&r->E, &b, &a);
    fe_add(&r->F, &d, &c);
    fe_sub(&r->G, &d, &c);
    fe_add(&r->H, &b, &a);
}

/* P + Q with Q affine (Z2 = 1): D = 2 Z1 (< 2^53) needs no multiplication. 3M. */
INLINE void pt_madd(pt_comp *r, const pt_ext *p, const pt_niels *q)
{
    fe a, b, c, d;
    fe_sub(&a, &p->Y, &p->X);
    fe_mul(&a, &a, &q->ymx);
    fe_add(&b, &p->Y, &p->X);
    fe_mul(&b, &b, &q->ypx);
    fe_mul(&c, &p->T, &q->xy2d);
    fe_add(&d, &p->Z, &p->Z);
    fe_sub(&r->E, &b, &a);
    fe_sub(&r->F, &d, &c);
    fe_add(&r->G, &d, &c);
    fe_add(&r->H, &b, &a);
}

/* P - Q with Q affine. */
INLINE void pt_msub(pt_comp *r, const pt_ext *p, const pt_niels *q)
{
    fe a, b, c, d;
    fe_sub(&a, &p->Y, &p->X);
    fe_mul(&a, &a, &q->ypx);
    fe_add(&b, &p->Y, &p->X);
    fe_mul(&b, &b, &q->ymx);
    fe_mul(&c, &p->T, &q->xy2d);
    fe_add(&d, &p->Z, &p->Z);
    fe_sub(&r->E, &b, &a);
    fe_add(&r->F, &d, &c);
    fe_sub(&r->G, &d, &c);
    fe_add(&r->H, &b, &a);
}

/* P + Q for two extended points (Q converted to cached on the way). */
static void pt_add_ext(pt_ext *r, const pt_ext *p, const pt_ext *q)
{
    pt_cached c;
    pt_comp t;
    pt_to_cached(&c, q);
    pt_add(&t, p, &c);
    pt_comp_to_ext(r, &t);
}

/* Whether the projective point is the identity (0 : 1): X = 0 and Y = Z (Z is never 0 on this curve). */
static int pt_proj_is_identity(const pt_proj *p)
{
    fe t;
    fe_sub(&t, &p->Y, &p->Z);
    return fe_iszero(&p->X) && fe_iszero(&t);
}

/* ============================================================================================ */
/* 5. Decoding, encoding, recoding, tables                                                       */
/* ============================================================================================ */

/*
 * RFC 8032 5.1.3, strict: y = the low 255 bits, rejected if >= p; x^2 = u / v with u = y^2 - 1,
 * v = d y^2 + 1; the candidate x = u v^3 (u v^7)^((p-5)/8); if v x^2 = u keep it, if v x^2 = -u
 * multiply it by sqrt(-1), otherwise there is no square root: reject. x = 0 with the sign bit set is
 * rejected; otherwise x is negated when its low bit differs from the sign bit. The result has Z = 1 and
 * P-class coordinates. Returns 1 on success, 0 on a rejected encoding.
 */
static int pt_decompress(pt_ext *p, const uint8_t s[32])
{
    int sign = s[31] >> 7;
    if (!fe_bytes_canonical(s))
        return 0;
    fe y, yy, u, v, v3, t, x, vxx, chk;
    fe_frombytes(&y, s);
    fe_sq(&yy, &y);
    fe_sub(&u, &yy, &FE_ONE);
    fe_carry(&u, &u);              /* u reduced, so it may be subtracted below */
    fe_mul(&v, &yy, &FE_D);
    fe_add(&v, &v, &FE_ONE);
    fe_sq(&v3, &v);
    fe_mul(&v3, &v3, &v);          /* v^3 */
    fe_sq(&t, &v3);
    fe_mul(&t, &t, &v);            /* v^7 */
    fe_mul(&t, &t, &u);            /* u v^7 */
    fe_pow22523(&t, &t);           /* (u v^7)^((p-5)/8) */
    fe_mul(&t, &t, &v3);
    fe_mul(&x, &t, &u);            /* u v^3 (u v^7)^((p-5)/8) */
    fe_sq(&vxx, &x);
    fe_mul(&vxx, &vxx, &v);        /* v x^2 */
    fe_sub(&chk, &vxx, &u);
    if (!fe_iszero(&chk)) {
        fe_add(&chk, &vxx, &u);
        if (!fe_iszero(&chk))
            return 0;              /* u / v is not a square */
        fe_mul(&x, &x, &FE_SQRTM1);
    }
    int odd = fe_isodd(&x);
    if (sign && !odd && fe_iszero(&x))
        return 0;                  /* x = 0 with the sign bit set */
    if (odd != sign)
        fe_neg(&x, &x);
    p->X = x;
    p->Y = y;
    p->Z = FE_ONE;
    fe_mul(&p->T, &x, &y);
    return 1;
}

/* The 32-byte encoding of P: y with the low bit of x in bit 255 (one inversion). */
static void pt_encode(uint8_t s[32], const pt_ext *p)
{
    fe zi, x, y;
    fe_invert(&zi, &p->Z);
    fe_mul(&x, &p->X, &zi);
    fe_mul(&y, &p->Y, &zi);
    fe_tobytes(s, &y);
    s[31] |= (uint8_t)(fe_isodd(&x) << 7);
}

/*
 * Width-w non-adjacent form of the scalar x (words x[0..nw-1], nw <= 4): naf[0..len-1] with
 * x = sum naf[i] 2^i, every nonzero digit odd with |digit| < 2^(w-1), and at least w - 1 zeros after
 * each nonzero digit. len must exceed the bit length of x by one (a digit at the top may carry).
 * Scanning from the bottom: at a position where (carry + the next w bits) is odd, the digit is that
 * window value, minus 2^w if it is 2^(w-1) or more (which leaves a carry of one into position + w).
 */
static void wnaf(int8_t *naf, int len, const uint64_t *x, int nw, int w)
{
    uint64_t xs[6] = {0};
    memcpy(xs, x, (size_t)nw * sizeof(uint64_t));
    memset(naf, 0, (size_t)len);
    const uint64_t width = (uint64_t)1 << w, mask = width - 1;
    uint64_t carry = 0;
    int pos = 0;
    while (pos < len) {
        int idx = pos / 64, bit = pos % 64;
        uint64_t buf = xs[idx] >> bit;
        if (bit > 64 - w)
            buf |= xs[idx + 1] << (64 - bit);
        uint64_t win = carry + (buf & mask);
        if ((win & 1) == 0) {
            pos++;
            continue;
        }
        if (win < width / 2) {
            carry = 0;
            naf[pos] = (int8_t)win;
        } else {
            carry = 1;
            naf[pos] = (int8_t)((int64_t)win - (int64_t)width);
        }
        pos += w;
    }
}

/* Window width of the tables of variable points (odd multiples P, 3P, ..., 15P). */
#define W_VAR 5
#define TAB_VAR (1 << (W_VAR - 2))
/* Window width of the fixed table of the base point (odd multiples B, 3B, ..., 127B, affine). */
#define W_BASE 8
#define TAB_BASE (1 << (W_BASE - 2))

static pt_niels BASE_TABLE[TAB_BASE]; /* filled once at module initialisation, read-only afterwards */

/* tab[i] = (2i + 1) P in cached form, i < TAB_VAR: one doubling and TAB_VAR - 1 additions. */
static void table_var(pt_cached tab[TAB_VAR], const pt_ext *p)
{
    pt_comp t;
    pt_proj pp;
    pt_ext p2, cur;
    pt_cached c2;
    pt_ext_to_proj(&pp, p);
    pt_dbl(&t, &pp);
    pt_comp_to_ext(&p2, &t);
    pt_to_cached(&c2, &p2);
    pt_to_cached(&tab[0], p);
    cur = *p;
    for (int i = 1; i < TAB_VAR; i++) {
        pt_add(&t, &cur, &c2);
        pt_comp_to_ext(&cur, &t);
        pt_to_cached(&tab[i], &cur);
    }
}

/* The base point B: y = 4/5, x even. */
static const uint8_t BASE_ENCODING[32] = {
    0x58, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
    0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
};

/* BASE_TABLE[i] = (2i + 1) B as affine niels points (one inversion each; done once). */
static int base_table_init(void)
{
    pt_ext b, b2, cur;
    pt_comp t;
    pt_proj pp;
    pt_cached c2;
    if (!pt_decompress(&b, BASE_ENCODING))
        return 0;
    pt_ext_to_proj(&pp, &b);
    pt_dbl(&t, &pp);
    pt_comp_to_ext(&b2, &t);
    pt_to_cached(&c2, &b2);
    cur = b;
    for (int i = 0; i < TAB_BASE; i++) {
        if (i > 0) {
            pt_add(&t, &cur, &c2);
            pt_comp_to_ext(&cur, &t);
        }
        fe zi, x, y;
        fe_invert(&zi, &cur.Z);
        fe_mul(&x, &cur.X, &zi);
        fe_mul(&y, &cur.Y, &zi);
        fe_add(&BASE_TABLE[i].ypx, &y, &x);
        fe_sub(&BASE_TABLE[i].ymx, &y, &x);
        fe_carry(&BASE_TABLE[i].ymx, &BASE_TABLE[i].ymx);
        fe_mul(&BASE_TABLE[i].xy2d, &x, &y);
        fe_mul(&BASE_TABLE[i].xy2d, &BASE_TABLE[i].xy2d, &FE_D2);
    }
    return 1;
}

/* ============================================================================================ */
/* 6. Multi-scalar multiplication                                                                */
/* ============================================================================================ */

/* One variable point of a Straus sum: its table of odd multiples and the wNAF of its scalar. */
typedef struct {
    const pt_cached *tab;
    const int8_t *naf;
} straus_term;

/*
 * out = [b]B + sum_j [s_j] P_j by Straus's interleaving: one shared chain of doublings from the top
 * nonzero digit down, with an addition (or subtraction) of a table entry for each nonzero digit.
 * naf_b (width W_BASE, may be NULL) is the base point's digits; each term's digits have width W_VAR;
 * all digit arrays have len entries.
 */
static void straus(pt_ext *out, const int8_t *naf_b, const straus_term *terms, size_t nterms, int len)
{
    int top = -1;
    for (int i = len - 1; i >= 0 && top < 0; i--) {
        if (naf_b && naf_b[i])
            top = i;
        for (size_t j = 0; j < nterms && top < 0; j++)
            if (terms[j].naf[i])
                top = i;
    }
    if (top < 0) {
        pt_ext_identity(out);
        return;
    }
    pt_proj r;
    pt_comp t;
    pt_ext u;
    pt_proj_identity(&r);
    for (int i = top; i >= 0; i--) {
        pt_dbl(&t, &r);
        if (naf_b) {
            int d = naf_b[i];
            if (d > 0) {
                pt_comp_to_ext(&u, &t);
                pt_madd(&t, &u, &BASE_TABLE[d / 2]);
            } else if (d < 0) {
                pt_comp_to_ext(&u, &t);
                pt_msub(&t, &u, &BASE_TABLE[(-d) / 2]);
            }
        }
        for (size_t j = 0; j < nterms; j++) {
            int d = terms[j].naf[i];
            if (d > 0) {
                pt_comp_to_ext(&u, &t);
                pt_add(&t, &u, &terms[j].tab[d / 2]);
            } else if (d < 0) {
                pt_comp_to_ext(&u, &t);
                pt_sub(&t, &u, &terms[j].tab[(-d) / 2]);
            }
        }
        if (i > 0)
            pt_comp_to_proj(&r, &t);
    }
    pt_comp_to_ext(out, &t);
}

/* The Pippenger window that minimises the estimated cost for n points with nbits-bit scalars:
 * per window, n bucket additions (7M), 2^c aggregation additions (9M) and c doublings (7M). */
static int pippenger_window(size_t n, int nbits)
{
    int best_c = 4;
    double best = 1e300;
    for (int c = 4; c <= 14; c++) {
        int nwin = (nbits + 1 + c - 1) / c;
        double cost = (double)nwin * (7.0 * (double)n + 9.0 * (double)(1 << c) + 7.0 * c);
        if (cost < best) {
            best = cost;
            best_c = c;
        }
    }
    return best_c;
}

/*
 * out = sum_i [s_i] P_i (P_i affine: Z = 1, as decoded) by Pippenger's bucket method with signed
 * digits: each scalar (nw words, < 2^nbits) is written in radix 2^c with digits in
 * [-2^(c-1), 2^(c-1)] (a digit above 2^(c-1) becomes digit - 2^c and carries one; with
 * ceil((nbits + 1) / c) windows the top window never carries). For each window from the top: the
 * running result is multiplied by 2^c, each point is added to (or subtracted from) the bucket of its
 * |digit|, and sum_k k bucket_k is formed with two running sums (2^c additions at most).
 * window: the radix exponent c, or 0 to choose it from n. Returns 0 when out of memory.
 */
static int pippenger(pt_ext *out, const pt_ext *pts, const uint64_t *scalars, int nw, size_t n, int nbits,
                     int window)
{
    if (n == 0) {
        pt_ext_identity(out);
        return 1;
    }
    int c = window > 0 ? window : pippenger_window(n, nbits);
    int nwin = (nbits + 1 + c - 1) / c;
    size_t nbuckets = (size_t)1 << (c - 1);
    int16_t *digits = malloc((size_t)nwin * n * sizeof(int16_t));
    pt_niels *niels = malloc(n * sizeof(pt_niels));
    pt_ext *buckets = malloc((nbuckets + 1) * sizeof(pt_ext));
    uint8_t *used = malloc(nbuckets + 1);
    if (!digits || !niels || !buckets || !used) {
        free(digits);
        free(niels);
        free(buckets);
        free(used);
        return 0;
    }
    const int64_t half = (int64_t)1 << (c - 1), full = (int64_t)1 << c;
    for (size_t i = 0; i < n; i++) {
        const uint64_t *s = scalars + i * (size_t)nw;
        int64_t carry = 0;
        for (int j = 0; j < nwin; j++) {
            int bitpos = j * c, idx = bitpos / 64, off = bitpos % 64;
            uint64_t bits = 0;
            if (idx < nw) {
                bits = s[idx] >> off;
                if (off + c > 64 && idx + 1 < nw)
                    bits |= s[idx + 1] << (64 - off);
            }
            int64_t v = (int64_t)(bits & (uint64_t)(full - 1)) + carry;
            if (v > half) {
                v -= full;
                carry = 1;
            } else {
                carry = 0;
            }
            digits[(size_t)j * n + i] = (int16_t)v;
        }
        /* niels form of the affine point: y + x, y - x, 2d x y (T = x y since Z = 1) */
        fe_add(&niels[i].ypx, &pts[i].Y, &pts[i].X);
        fe_sub(&niels[i].ymx, &pts[i].Y, &pts[i].X);
        fe_mul(&niels[i].xy2d, &pts[i].T, &FE_D2);
    }

    pt_ext acc;
    int have_acc = 0;
    pt_comp t;
    for (int j = nwin - 1; j >= 0; j--) {
        if (have_acc) {
            pt_proj r;
            pt_ext_to_proj(&r, &acc);
            for (int k = 0; k < c; k++) {
                pt_dbl(&t, &r);
                if (k + 1 < c)
                    pt_comp_to_proj(&r, &t);
            }
            pt_comp_to_ext(&acc, &t);
        }
        memset(used, 0, nbuckets + 1);
        const int16_t *dj = digits + (size_t)j * n;
        for (size_t i = 0; i < n; i++) {
            int d = dj[i];
            if (d > 0) {
                if (used[d]) {
                    pt_madd(&t, &buckets[d], &niels[i]);
                    pt_comp_to_ext(&buckets[d], &t);
                } else {
                    buckets[d] = pts[i];
                    used[d] = 1;
                }
            } else if (d < 0) {
                d = -d;
                if (used[d]) {
                    pt_msub(&t, &buckets[d], &niels[i]);
                    pt_comp_to_ext(&buckets[d], &t);
                } else {
                    pt_neg(&buckets[d], &pts[i]);
                    used[d] = 1;
                }
            }
        }
        pt_ext running, sum;
        int have_running = 0, have_sum = 0;
        for (size_t k = nbuckets; k >= 1; k--) {
            if (used[k]) {
                if (have_running)
                    pt_add_ext(&running, &running, &buckets[k]);
                else
                    running = buckets[k];
                have_running = 1;
            }
            if (have_running) {
                if (have_sum)
                    pt_add_ext(&sum, &sum, &running);
                else
                    sum = running;
                have_sum = 1;
            }
        }
        if (have_sum) {
            if (have_acc)
                pt_add_ext(&acc, &acc, &sum);
            else
                acc = sum;
            have_acc = 1;
        }
    }
    if (have_acc)
        *out = acc;
    else
        pt_ext_identity(out);
    free(digits);
    free(niels);
    free(buckets);
    free(used);
    return 1;
}

/* Below this many R_i a batch uses Straus for them, from it on Pippenger (measured on x86_64). */
#define PIPPENGER_MIN 64

/* ============================================================================================ */
/* 7. Verification                                                                               */
/* ============================================================================================ */

/* k = SHA-512(R || A || M) mod L. */
static void challenge(uint64_t k[4], const uint8_t r[32], const uint8_t a[32], const uint8_t *m, size_t mlen)
{
    sha512_ctx ctx;
    uint8_t h[64];
    uint64_t w[8];
    sha512_init(&ctx);
    sha512_update(&ctx, r, 32);
    sha512_update(&ctx, a, 32);
    sha512_update(&ctx, m, mlen);
    sha512_final(&ctx, h);
    for (int i = 0; i < 8; i++)
        w[i] = load64_le(h + 8 * i);
    sc_reduce_wide(k, w);
}

/* Whether [8] P == O for a projective P: three doublings, then the identity test. */
static int proj_times8_is_identity(const pt_proj *p)
{
    pt_proj r = *p;
    pt_comp t;
    for (int i = 0; i < 3; i++) {
        pt_dbl(&t, &r);
        pt_comp_to_proj(&r, &t);
    }
    return pt_proj_is_identity(&r);
}

/*
 * RFC 8032 5.1.7, cofactored: 1 iff S < L, A and R decode strictly and [8]([S]B - [k]A - R) = O.
 * The sum [S]B + [k](-A) comes from one Straus pass (the base point's fixed affine table, a table
 * of -A's odd multiples), then R is subtracted and the result multiplied by 8.
 */
static int verify_one(const uint8_t pub[32], const uint8_t sig[64], const uint8_t *msg, size_t mlen)
{
    pt_ext a, r, p;
    pt_cached tab[TAB_VAR], rc;
    pt_comp t;
    uint64_t s[4], k[4];
    int8_t naf_s[256], naf_k[256];
    if (!sc_is_canonical(sig + 32))
        return 0;
    if (!pt_decompress(&a, pub) || !pt_decompress(&r, sig))
        return 0;
    challenge(k, sig, pub, msg, mlen);
    sc_load(s, sig + 32);
    pt_neg(&a, &a);
    table_var(tab, &a);
    wnaf(naf_s, 254, s, 4, W_BASE); /* s, k < L < 2^253: 254 digits */
    wnaf(naf_k, 254, k, 4, W_VAR);
    straus_term term = {tab, naf_k};
    straus(&p, naf_s, &term, 1, 254);
    pt_to_cached(&rc, &r);
    pt_sub(&t, &p, &rc);
    pt_proj pr;
    pt_comp_to_proj(&pr, &t);
    return proj_times8_is_identity(&pr);
}

/* Open-addressing table from public keys (32 bytes) to their index among the distinct keys. */
static uint64_t key_hash(const uint8_t *k)
{
    uint64_t h = load64_le(k) ^ (load64_le(k + 8) * 0x9e3779b97f4a7c15ULL) ^
                 (load64_le(k + 16) * 0xc2b2ae3d27d4eb4fULL) ^ (load64_le(k + 24) * 0x165667b19e3779f9ULL);
    return h ^ (h >> 29);
}

/*
 * The batch equation (see the top of the file) for n signatures; pubs n x 32 bytes, sigs n x 64,
 * message i at msgs + moff[i] with length moff[i + 1] - moff[i], rnd n x 16 bytes (z_i, little-endian,
 * 0 replaced by 1). Returns 1 (holds), 0 (fails, or some S >= L, or some A or R does not decode),
 * -1 (out of memory). Runs without the GIL: touches no Python object.
 */
static int verify_batch_raw(size_t n, const uint8_t *pubs, const uint8_t *sigs, const uint8_t *msgs,
                            const size_t *moff, const uint8_t *rnd)
{
    if (n == 0)
        return 1;
    int result = -1;
    size_t hsize = 16;
    while (hsize < 2 * n)
        hsize *= 2;
    size_t *hslot = malloc(hsize * sizeof(size_t));       /* distinct-key index + 1, 0 = empty */
    size_t *keyof = malloc(n * sizeof(size_t));           /* item -> distinct-key index */
    size_t *keyitem = malloc(n * sizeof(size_t));         /* distinct key -> first item with it */
    pt_ext *rpts = malloc(n * sizeof(pt_ext));
    uint64_t *z = malloc(n * 2 * sizeof(uint64_t));
    uint64_t *kacc = NULL;
    pt_ext *apts = NULL;
    pt_cached *atab = NULL;
    int8_t *anaf = NULL;
    straus_term *aterms = NULL;
    pt_cached *rtab = NULL;
    int8_t *rnaf = NULL;
    straus_term *rterms = NULL;
    if (!hslot || !keyof || !keyitem || !rpts || !z)
        goto done;
    memset(hslot, 0, hsize * sizeof(size_t));

    /* S < L for every signature, and the distinct keys. */
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (!sc_is_canonical(sigs + 64 * i + 32)) {
            result = 0;
            goto done;
        }
        const uint8_t *pk = pubs + 32 * i;
        size_t h = (size_t)key_hash(pk) & (hsize - 1);
        for (;;) {
            size_t slot = hslot[h];
            if (slot == 0) {
                hslot[h] = m + 1;
                keyitem[m] = i;
                keyof[i] = m++;
                break;
            }
            if (memcmp(pubs + 32 * keyitem[slot - 1], pk, 32) == 0) {
                keyof[i] = slot - 1;
                break;
            }
            h = (h + 1) & (hsize - 1);
        }
    }

    kacc = calloc(m * 8, sizeof(uint64_t));
    apts = malloc(m * sizeof(pt_ext));
    if (!kacc || !apts)
        goto done;

    /* Strict decoding of every distinct A and every R. */
    for (size_t j = 0; j < m; j++)
        if (!pt_decompress(&apts[j], pubs + 32 * keyitem[j])) {
            result = 0;
            goto done;
        }
    for (size_t i = 0; i < n; i++)
        if (!pt_decompress(&rpts[i], sigs + 64 * i)) {
            result = 0;
            goto done;
        }

    /* Scalars: z_i; per key sum z_i k_i; sum z_i S_i -- accumulated wide (< n 2^381), reduced once. */
    uint64_t sacc[8] = {0}, sb[4], sbneg[4];
    for (size_t i = 0; i < n; i++) {
        uint64_t *zi = z + 2 * i, k[4], s[4];
        zi[0] = load64_le(rnd + 16 * i);
        zi[1] = load64_le(rnd + 16 * i + 8);
        if ((zi[0] | zi[1]) == 0)
            zi[0] = 1;
        challenge(k, sigs + 64 * i, pubs + 32 * i, msgs + moff[i], moff[i + 1] - moff[i]);
        sc_muladd_wide(kacc + 8 * keyof[i], zi, k);
        sc_load(s, sigs + 64 * i + 32);
        sc_muladd_wide(sacc, zi, s);
    }
    sc_reduce_wide(sb, sacc);
    sc_neg(sbneg, sb);

    /* Long scalars (the base point, each distinct key) in one Straus pass of up to 254 doublings. */
    atab = malloc(m * TAB_VAR * sizeof(pt_cached));
    anaf = malloc(m * 256);
    aterms = malloc(m * sizeof(straus_term));
    if (!atab || !anaf || !aterms)
        goto done;
    int8_t naf_b[256];
    wnaf(naf_b, 254, sbneg, 4, W_BASE);
    for (size_t j = 0; j < m; j++) {
        uint64_t a[4];
        sc_reduce_wide(a, kacc + 8 * j);
        wnaf(anaf + 256 * j, 254, a, 4, W_VAR);
        table_var(atab + TAB_VAR * j, &apts[j]);
        aterms[j].tab = atab + TAB_VAR * j;
        aterms[j].naf = anaf + 256 * j;
    }
    pt_ext total, part;
    straus(&total, naf_b, aterms, m, 254);

    /* The R_i with their 128-bit z_i. */
    if (n >= PIPPENGER_MIN) {
        if (!pippenger(&part, rpts, z, 2, n, 128, 0))
            goto done;
        pt_add_ext(&total, &total, &part);
    } else {
        rtab = malloc(n * TAB_VAR * sizeof(pt_cached));
        rnaf = malloc(n * 130);
        rterms = malloc(n * sizeof(straus_term));
        if (!rtab || !rnaf || !rterms)
            goto done;
        for (size_t i = 0; i < n; i++) {
            wnaf(rnaf + 130 * i, 130, z + 2 * i, 2, W_VAR);
            table_var(rtab + TAB_VAR * i, &rpts[i]);
            rterms[i].tab = rtab + TAB_VAR * i;
            rterms[i].naf = rnaf + 130 * i;
        }
        straus(&part, NULL, rterms, n, 130);
        pt_add_ext(&total, &total, &part);
    }

    /* [8] total == O */
    pt_proj pr;
    pt_ext_to_proj(&pr, &total);
    result = proj_times8_is_identity(&pr);

done:
    free(hslot);
    free(keyof);
    free(keyitem);
    free(rpts);
    free(z);
    free(kacc);
    free(apts);
    free(atab);
    free(anaf);
    free(aterms);
    free(rtab);
    free(rnaf);
    free(rterms);
    return result;
}

/* ============================================================================================ */
/* 8. The Python module                                                                          */
/* ============================================================================================ */

PyDoc_STRVAR(verify_doc,
"verify(public, signature, message, /) -> bool\n\n"
"Ed25519 verification (RFC 8032 5.1.7, cofactored equation, strict decoding of A and R, S < L).\n"
"public: 32 bytes, signature: 64 bytes, message: any bytes-like object. Wrong lengths give False.\n"
"The GIL is released during the computation.");

static PyObject *py_verify(PyObject *self, PyObject *args)
{
    Py_buffer pub, sig, msg;
    int ok = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*y*y*:verify", &pub, &sig, &msg))
        return NULL;
    if (pub.len == 32 && sig.len == 64) {
        uint8_t p[32], s[64];
        memcpy(p, pub.buf, 32);
        memcpy(s, sig.buf, 64);
        const uint8_t *m = msg.buf;
        size_t mlen = (size_t)msg.len;
        Py_BEGIN_ALLOW_THREADS
        ok = verify_one(p, s, m, mlen);
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&pub);
    PyBuffer_Release(&sig);
    PyBuffer_Release(&msg);
    return PyBool_FromLong(ok);
}

/* Copies exactly want bytes of a bytes-like object: 1 copied, 0 wrong length, -1 error raised. */
static int copy_fixed(PyObject *o, uint8_t *dst, Py_ssize_t want)
{
    if (PyBytes_CheckExact(o)) {
        if (PyBytes_GET_SIZE(o) != want)
            return 0;
        memcpy(dst, PyBytes_AS_STRING(o), (size_t)want);
        return 1;
    }
    Py_buffer v;
    if (PyObject_GetBuffer(o, &v, PyBUF_SIMPLE) < 0)
        return -1;
    int ok = v.len == want;
    if (ok)
        memcpy(dst, v.buf, (size_t)want);
    PyBuffer_Release(&v);
    return ok;
}

PyDoc_STRVAR(verify_batch_doc,
"verify_batch(publics, signatures, messages, randomness, /) -> bool\n\n"
"Batch Ed25519 verification: True iff the random linear combination of the cofactored equations of\n"
"all n signatures holds (with z_i = the 16 bytes randomness[16 i : 16 i + 16], little-endian, 0\n"
"replaced by 1). Identical public keys share one scalar. False if any public key is not 32 bytes,\n"
"any signature not 64 bytes, any S >= L or any A or R does not decode. ValueError if the three\n"
"sequences differ in length or randomness is not 16 n bytes. The inputs are copied, then the GIL is\n"
"released for all the hashing and arithmetic.");

static PyObject *py_verify_batch(PyObject *self, PyObject *args)
{
    PyObject *po, *so, *mo, *pf = NULL, *sf = NULL, *mf = NULL, *ret = NULL;
    Py_buffer rnd;
    uint8_t *pubs = NULL, *sigs = NULL, *msgs = NULL, *rcopy = NULL;
    size_t *moff = NULL;
    Py_buffer *views = NULL;
    Py_ssize_t nviews = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOy*:verify_batch", &po, &so, &mo, &rnd))
        return NULL;
    pf = PySequence_Fast(po, "publics must be a sequence");
    sf = pf ? PySequence_Fast(so, "signatures must be a sequence") : NULL;
    mf = sf ? PySequence_Fast(mo, "messages must be a sequence") : NULL;
    if (!mf)
        goto done;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(pf);
    if (PySequence_Fast_GET_SIZE(sf) != n || PySequence_Fast_GET_SIZE(mf) != n) {
        PyErr_SetString(PyExc_ValueError, "publics, signatures and messages differ in length");
        goto done;
    }
    if (rnd.len != 16 * n) {
        PyErr_SetString(PyExc_ValueError, "randomness must hold 16 bytes per signature");
        goto done;
    }
    if (n == 0) {
        ret = Py_NewRef(Py_True);
        goto done;
    }
    pubs = malloc((size_t)n * 32);
    sigs = malloc((size_t)n * 64);
    rcopy = malloc((size_t)n * 16);
    moff = malloc(((size_t)n + 1) * sizeof(size_t));
    views = malloc((size_t)n * sizeof(Py_buffer));
    if (!pubs || !sigs || !rcopy || !moff || !views) {
        PyErr_NoMemory();
        goto done;
    }
    memcpy(rcopy, rnd.buf, (size_t)n * 16);
    for (Py_ssize_t i = 0; i < n; i++) {
        int ok = copy_fixed(PySequence_Fast_GET_ITEM(pf, i), pubs + 32 * i, 32);
        if (ok > 0)
            ok = copy_fixed(PySequence_Fast_GET_ITEM(sf, i), sigs + 64 * i, 64);
        if (ok < 0)
            goto done;
        if (ok == 0) {
            ret = Py_NewRef(Py_False);
            goto done;
        }
    }
    size_t total = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (PyObject_GetBuffer(PySequence_Fast_GET_ITEM(mf, i), &views[i], PyBUF_SIMPLE) < 0)
            goto done;
        nviews++;
        moff[i] = total;
        total += (size_t)views[i].len;
    }
    moff[n] = total;
    msgs = malloc(total ? total : 1);
    if (!msgs) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        memcpy(msgs + moff[i], views[i].buf, (size_t)views[i].len);
    for (Py_ssize_t i = 0; i < nviews; i++)
        PyBuffer_Release(&views[i]);
    nviews = 0;

    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = verify_batch_raw((size_t)n, pubs, sigs, msgs, moff, rcopy);
    Py_END_ALLOW_THREADS
    if (rc < 0)
        PyErr_NoMemory();
    else
        ret = PyBool_FromLong(rc);

done:
    for (Py_ssize_t i = 0; i < nviews; i++)
        PyBuffer_Release(&views[i]);
    free(views);
    free(pubs);
    free(sigs);
    free(msgs);
    free(rcopy);
    free(moff);
    Py_XDECREF(pf);
    Py_XDECREF(sf);
    Py_XDECREF(mf);
    PyBuffer_Release(&rnd);
    return ret;
}

/* ---- test hooks ---------------------------------------------------------------------------- */

static PyObject *py_sha512(PyObject *self, PyObject *args)
{
    Py_buffer data;
    sha512_ctx ctx;
    uint8_t out[64];
    (void)self;
    if (!PyArg_ParseTuple(args, "y*:_sha512", &data))
        return NULL;
    sha512_init(&ctx);
    /* feed in uneven pieces so that the buffering is exercised too */
    const uint8_t *p = data.buf;
    size_t len = (size_t)data.len, piece = 1;
    while (len) {
        size_t take = piece < len ? piece : len;
        sha512_update(&ctx, p, take);
        p += take;
        len -= take;
        piece = piece * 3 + 1;
    }
    sha512_final(&ctx, out);
    PyBuffer_Release(&data);
    return PyBytes_FromStringAndSize((const char *)out, 64);
}

static PyObject *py_sc_reduce(PyObject *self, PyObject *args)
{
    Py_buffer b;
    uint64_t w[8], r[4];
    uint8_t out[32];
    (void)self;
    if (!PyArg_ParseTuple(args, "y*:_sc_reduce", &b))
        return NULL;
    if (b.len != 64) {
        PyBuffer_Release(&b);
        PyErr_SetString(PyExc_ValueError, "_sc_reduce takes 64 bytes");
        return NULL;
    }
    for (int i = 0; i < 8; i++)
        w[i] = load64_le((const uint8_t *)b.buf + 8 * i);
    PyBuffer_Release(&b);
    sc_reduce_wide(r, w);
    sc_store(out, r);
    return PyBytes_FromStringAndSize((const char *)out, 32);
}

static PyObject *py_decompress_ok(PyObject *self, PyObject *args)
{
    Py_buffer b;
    pt_ext p;
    int ok = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*:_decompress_ok", &b))
        return NULL;
    if (b.len == 32)
        ok = pt_decompress(&p, b.buf);
    PyBuffer_Release(&b);
    return PyBool_FromLong(ok);
}

static PyObject *py_roundtrip(PyObject *self, PyObject *args)
{
    Py_buffer b;
    pt_ext p;
    uint8_t out[32];
    int ok = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*:_roundtrip", &b))
        return NULL;
    if (b.len == 32)
        ok = pt_decompress(&p, b.buf);
    PyBuffer_Release(&b);
    if (!ok)
        Py_RETURN_NONE;
    pt_encode(out, &p);
    return PyBytes_FromStringAndSize((const char *)out, 32);
}

/* _msm(points, scalars, method): encoding of sum [s_i] P_i (n points of 32 bytes, n 256-bit scalars);
 * method 0 = Straus, 1 = Pippenger, 2 = Straus with the base point's table for s_0 (P_0 ignored). */
static PyObject *py_msm(PyObject *self, PyObject *args)
{
    Py_buffer pb, sb;
    int method;
    PyObject *ret = NULL;
    pt_ext *pts = NULL, out;
    uint64_t *sc = NULL;
    pt_cached *tab = NULL;
    int8_t *naf = NULL;
    straus_term *terms = NULL;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*y*i:_msm", &pb, &sb, &method))
        return NULL;
    if (pb.len % 32 || sb.len != pb.len || method < 0 || method > 2) {
        PyErr_SetString(PyExc_ValueError, "_msm: n points and n scalars of 32 bytes, method 0, 1 or 2");
        goto done;
    }
    size_t n = (size_t)pb.len / 32;
    pts = malloc((n + 1) * sizeof(pt_ext));
    sc = malloc((n + 1) * 4 * sizeof(uint64_t));
    tab = malloc((n + 1) * TAB_VAR * sizeof(pt_cached));
    naf = malloc((n + 1) * 257);
    terms = malloc((n + 1) * sizeof(straus_term));
    if (!pts || !sc || !tab || !naf || !terms) {
        PyErr_NoMemory();
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        if (!pt_decompress(&pts[i], (const uint8_t *)pb.buf + 32 * i)) {
            ret = Py_NewRef(Py_None);
            goto done;
        }
        sc_load(sc + 4 * i, (const uint8_t *)sb.buf + 32 * i);
    }
    if (method == 1) {
        if (!pippenger(&out, pts, sc, 4, n, 256, 0)) {
            PyErr_NoMemory();
            goto done;
        }
    } else {
        size_t first = method == 2 && n > 0 ? 1 : 0;
        int8_t naf_b[257];
        if (first)
            wnaf(naf_b, 257, sc, 4, W_BASE);
        for (size_t i = first; i < n; i++) {
            wnaf(naf + 257 * i, 257, sc + 4 * i, 4, W_VAR);
            table_var(tab + TAB_VAR * i, &pts[i]);
            terms[i - first].tab = tab + TAB_VAR * i;
            terms[i - first].naf = naf + 257 * i;
        }
        straus(&out, first ? naf_b : NULL, terms, n - first, 257);
    }
    uint8_t enc[32];
    pt_encode(enc, &out);
    ret = PyBytes_FromStringAndSize((const char *)enc, 32);
done:
    free(pts);
    free(sc);
    free(tab);
    free(naf);
    free(terms);
    PyBuffer_Release(&pb);
    PyBuffer_Release(&sb);
    return ret;
}

static PyMethodDef methods[] = {
    {"verify", py_verify, METH_VARARGS, verify_doc},
    {"verify_batch", py_verify_batch, METH_VARARGS, verify_batch_doc},
    {"_sha512", py_sha512, METH_VARARGS, "_sha512(data) -> bytes: SHA-512 of data (test hook)."},
    {"_sc_reduce", py_sc_reduce, METH_VARARGS,
     "_sc_reduce(b) -> bytes: the 64-byte little-endian b mod L, 32 bytes (test hook)."},
    {"_decompress_ok", py_decompress_ok, METH_VARARGS,
     "_decompress_ok(b) -> bool: whether b is a valid strict point encoding (test hook)."},
    {"_roundtrip", py_roundtrip, METH_VARARGS,
     "_roundtrip(b) -> bytes | None: decode then encode b; None if it does not decode (test hook)."},
    {"_msm", py_msm, METH_VARARGS,
     "_msm(points, scalars, method) -> bytes | None: encoding of sum [s_i] P_i (test hook)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    "_ed25519",
    "Ed25519 signature verification (RFC 8032, cofactored, strict), single and batch, in C.",
    -1,
    methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC PyInit__ed25519(void)
{
    if (!base_table_init()) {
        PyErr_SetString(PyExc_ImportError, "_ed25519: the base point failed to decode (miscompiled?)");
        return NULL;
    }
    PyObject *m = PyModule_Create(&module);
    if (!m)
        return NULL;
    if (PyModule_AddIntConstant(m, "_PIPPENGER_MIN", PIPPENGER_MIN) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
