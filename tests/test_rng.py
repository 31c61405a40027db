"""Checks of the counter-based Gaussian generator (cpp/include/gradlime/rng/)."""

import hashlib
import math

import numpy as np
import pytest
from scipy import stats

from gradlime import _core

SEED = 0x5EED_1234_ABCD_0042


# --- Philox4x32-10 known-answer vectors (Random123 kat_vectors) ---------------------------------
@pytest.mark.parametrize(
    ("counter", "key", "expected"),
    [
        ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
        (
            (0xFFFFFFFF,) * 4,
            (0xFFFFFFFF,) * 2,
            (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD),
        ),
        (
            (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
            (0xA4093822, 0x299F31D0),
            (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
        ),
    ],
)
def test_philox_known_answers(counter, key, expected):
    assert tuple(_core._testing.philox4x32_10(list(counter), list(key))) == expected


# --- purity: every normal is a function of (seed, stream, sample, coordinate) ---------------------
def test_rows_are_pure_functions_of_sample():
    big = _core._testing.gaussian_rows(SEED, 3, 0, 20, 37)
    part = _core._testing.gaussian_rows(SEED, 3, 5, 5, 37)
    assert np.array_equal(big[5:10], part)
    # one row at a time, and samples above 2^32 (sample high word in the counter)
    for t in (0, 7, 19):
        assert np.array_equal(_core._testing.gaussian_rows(SEED, 3, t, 1, 37)[0], big[t])
    hi = (1 << 32) + 11
    a = _core._testing.gaussian_rows(SEED, 3, hi - 2, 4, 9)
    assert np.array_equal(a[2], _core._testing.gaussian_rows(SEED, 3, hi, 1, 9)[0])
    assert not np.array_equal(a[2], _core._testing.gaussian_rows(SEED, 3, 11, 1, 9)[0])


def _row_by_row(seed, stream, first, m, d):
    return np.vstack(
        [
            _core._testing.gaussian_rows(seed, stream, (first + t) % (1 << 64), 1, d)
            for t in range(m)
        ]
    )


@pytest.mark.parametrize(
    "first",
    [0, 1000, (1 << 32) - 5, (1 << 64) - 6],  # samples cross 2^32 (carry) and wrap at 2^64
)
def test_rows_batched_across_rows_match_single_rows(first):
    # Short rows share the vector registers of several rows (gaussian_rows in rng/layouts.hpp):
    # every batch/row split, odd d (dropped last normal) included, must give the single-row bits.
    for d in range(1, 41):
        for m in (1, 2, 3, 7, 33):
            z = _core._testing.gaussian_rows(SEED, 7, first, m, d)
            assert np.array_equal(z, _row_by_row(SEED, 7, first, m, d)), (d, m)


def test_rows_batched_long_rows_and_large_m():
    # around the switch to row-by-row for long rows, and many batches per call
    first = (1 << 32) - 3
    for d in (100, 125, 126, 127, 128, 129):
        z = _core._testing.gaussian_rows(SEED, 8, first, 5, d)
        assert np.array_equal(z, _row_by_row(SEED, 8, first, 5, d)), d
    for d in (1, 5, 15, 16):
        z = _core._testing.gaussian_rows(0, 0xFFFFFFFF, 17, 500, d)
        assert np.array_equal(z, _row_by_row(0, 0xFFFFFFFF, 17, 500, d)), d


@pytest.mark.parametrize(
    ("first", "m", "d"),
    [
        (0, 64, 15),
        (5, 7, 3),
        (2**32 - 5, 50, 16),
        (2**64 - 20, 40, 9),
        (0, 1, 1),
        (0, 200, 130),
        (3, 64, 1),
    ],
)
def test_columns_are_rows_transposed(first, m, d):
    rows = _core._testing.gaussian_rows(4, 9, first, m, d)
    cols = _core._testing.gaussian_columns(4, 9, first, m, d)
    assert cols.shape == (d, m)
    assert cols.tobytes() == np.ascontiguousarray(rows.T).tobytes()


def test_calls_are_deterministic_and_keyed():
    a = _core._testing.gaussian_rows(SEED, 1, 0, 8, 50)
    assert np.array_equal(a, _core._testing.gaussian_rows(SEED, 1, 0, 8, 50))
    assert not np.any(a == _core._testing.gaussian_rows(SEED, 2, 0, 8, 50))  # other stream
    assert not np.any(a == _core._testing.gaussian_rows(SEED + 1, 1, 0, 8, 50))  # other seed


def test_leading_columns_do_not_depend_on_d():
    # d values straddle the batch sizes of the implementation (8-block bulk, 4-block tail, odd d).
    ref = _core._testing.gaussian_rows(SEED, 9, 100, 6, 257)
    for d in (1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 23, 24, 25, 31, 32, 33, 47, 48, 49, 100, 101):
        z = _core._testing.gaussian_rows(SEED, 9, 100, 6, d)
        assert z.shape == (6, d)
        assert np.array_equal(z, ref[:, :d]), d


# --- pinned bits: the draws define every result downstream, so they must never change ----------
# Computed from the implementation before the AVX2/AVX-512 paths were added (the SSE2 and portable
# paths give the same bits); every path (AVX-512, AVX2, SSE2, -DGRADLIME_NO_SIMD) must match
# (tests/test_rng_kat.py compiles each).
def _sha(z):
    return hashlib.sha256(np.ascontiguousarray(z, dtype=np.float64).tobytes()).hexdigest()


@pytest.mark.parametrize(
    ("args", "digest"),
    [
        (
            (SEED, 11, (1 << 33) + 5, 17, 83),
            "7bc052af5a82929a3a6362ad6f799fb1b2b83aef3977005fc2281c39eb226fba",
        ),
        (
            (SEED, 0, 0, 3, 1000),
            "54258c7fb06bc835aa19ba9ce406e303881ec9f1829eeda12f42323f678c17a0",
        ),
        (
            (0, 0xFFFFFFFF, (1 << 64) - 3, 3, 9),
            "d346f9db1515ecb65615f6ea0572e8f7676b7c50aa844a2c6991937689d8e85b",
        ),
    ],
)
def test_pinned_draws(args, digest):
    assert _sha(_core._testing.gaussian_rows(*args)) == digest


def test_pinned_draws_every_short_width():
    # d = 1 .. 70 covers every batch/tail split of every path; samples straddle 2^32.
    h = hashlib.sha256()
    for d in range(1, 71):
        h.update(_core._testing.gaussian_rows(SEED, 5, (1 << 32) - 2, 4, d).tobytes())
    assert h.hexdigest() == "79611ff3dc778fa4103ad4a0cfa98a82efbc1df1d05b0501f1a29d6861716bd9"


def test_pinned_values():
    z = _core._testing.gaussian_rows(SEED, 2, 123456789, 1, 7)[0]
    expected = [
        "-0x1.4dd275cdf0afbp-2",
        "0x1.0b55cd544b788p-1",
        "0x1.295fc9cdab94bp-2",
        "0x1.9fcb55cb8d167p-1",
        "0x1.f5e351c41b55cp+0",
        "-0x1.6944997d2d707p+0",
        "0x1.b523c7e2eae63p-2",
    ]
    assert [float(x).hex() for x in z] == expected


# --- the transform: Box-Muller on the Philox block, checked against numpy's libm -----------------
def _reference_pair(seed, stream, sample, k):
    """Coordinates 2k, 2k+1 as documented in rng/normal.hpp, with numpy's log/sqrt/cos/sin."""
    r = _core._testing.philox4x32_10(
        [k, sample & 0xFFFFFFFF, sample >> 32, stream], [seed & 0xFFFFFFFF, seed >> 32]
    )
    a = (r[0] << 32) | r[1]
    b = (r[2] << 32) | r[3]
    u = (2 * (a >> 12) + 1) * 2.0**-53  # exact: (2N + 1) 2^-53, N = top 52 bits of r0:r1
    angle = 2.0 * math.pi * ((b >> 11) * 2.0**-53)  # top 53 bits of r2:r3
    radius = math.sqrt(-2.0 * math.log(u))
    return radius * math.cos(angle), radius * math.sin(angle), radius


def test_transform_matches_libm_box_muller():
    worst = 0.0
    for sample in (0, 1, 12345, (1 << 33) + 7):
        d = 64
        z = _core._testing.gaussian_rows(SEED, 4, sample, 1, d)[0]
        for k in range(d // 2):
            c, s, radius = _reference_pair(SEED, 4, sample, k)
            worst = max(worst, abs(z[2 * k] - c) / radius, abs(z[2 * k + 1] - s) / radius)
    # Own log/sin/cos kernels: measured <= 5e-16 of the radius against a long double reference;
    # numpy's angle 2 pi x itself carries ~1e-16 absolute rounding, so allow a little more.
    assert worst < 5e-15, worst


# --- distribution --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def draws():
    # 1e6 draws: 10^4 rows of d = 100 (bulk batches and tail batch both contribute).
    return _core._testing.gaussian_rows(SEED, 0, 0, 10_000, 100)


def test_mean_and_variance(draws):
    z = draws.ravel()
    n = z.size
    assert abs(z.mean()) < 5.0 / math.sqrt(n)
    assert abs(z.var() - 1.0) < 5.0 * math.sqrt(2.0 / n)
    # third and fourth moments (skew 0, kurtosis 3; var of the sample 4th moment is 96/n)
    assert abs(np.mean(z**3)) < 5.0 * math.sqrt(15.0 / n)
    assert abs(np.mean(z**4) - 3.0) < 5.0 * math.sqrt(96.0 / n)
    # every coordinate separately (10^4 draws each)
    m = draws.shape[0]
    assert np.all(np.abs(draws.mean(axis=0)) < 5.0 / math.sqrt(m))


def test_kolmogorov_smirnov(draws):
    assert stats.kstest(draws.ravel(), "norm").pvalue > 1e-3


@pytest.mark.parametrize("t", [1.0, 2.0, 3.0, 4.0])
def test_tail_frequencies(draws, t):
    z = draws.ravel()
    n = z.size
    p = 2.0 * stats.norm.sf(t)
    count = np.count_nonzero(np.abs(z) > t)
    se = math.sqrt(n * p * (1.0 - p))
    assert abs(count - n * p) < 5.0 * se, (count, n * p, se)


def test_no_correlation_between_coordinates_or_samples():
    z = _core._testing.gaussian_rows(SEED, 5, 0, 500_000, 3)
    n = z.shape[0]
    bound = 5.0 / math.sqrt(n)
    assert abs(np.corrcoef(z[:, 0], z[:, 1])[0, 1]) < bound  # same Philox block (cos, sin)
    assert abs(np.corrcoef(z[:, 1], z[:, 2])[0, 1]) < bound  # neighbouring blocks
    assert abs(np.corrcoef(z[:-1, 0], z[1:, 0])[0, 1]) < bound  # consecutive samples
    # Box-Muller pairs are independent, not merely uncorrelated: z0^2 and z1^2 too
    assert abs(np.corrcoef(z[:, 0] ** 2, z[:, 1] ** 2)[0, 1]) < bound


def test_range_is_finite():
    z = _core._testing.gaussian_rows(SEED, 6, 0, 2000, 101)
    assert np.all(np.isfinite(z))
    # u >= 2^-53, so |z| <= sqrt(2 * 53 * ln 2) = 8.57
    assert np.max(np.abs(z)) <= math.sqrt(2 * 53 * math.log(2.0)) + 1e-12
