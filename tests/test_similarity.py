"""Similarity measures against independent references: DADApy and plain NumPy formulas."""
import numpy as np
import pytest
import torch

from tlcore.cka import debiased_cka, linear_cka, rbf_cka
from tlcore.neighbours import information_imbalance, knn_indices, label_overlap, neighbourhood_overlap
from tlcore.similarity import MEASURES, layerwise, similarity


def _random(n=150, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6))
    y = np.tanh(x @ rng.normal(size=(6, 9))) + 0.5 * rng.normal(size=(n, 9))
    return x, y, rng.integers(0, 3, n)


def _clustered(n=160, seed=1):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, n)
    centres = rng.normal(scale=4.0, size=(4, 5))
    x = centres[labels] + rng.normal(size=(n, 5))
    y = np.hstack([x[:, :2] * 2.0, rng.normal(size=(n, 3))])
    return x, y, labels


@pytest.mark.parametrize("data", [_random, _clustered])
def test_knn_measures_equal_dadapy(data, dadapy):
    x, y, labels = data()
    ks = [1, 5, 20]
    ref = dadapy(x, y, labels, ks)
    for k in ks:
        assert abs(neighbourhood_overlap(x, y, k) - ref[k]["neighbourhood_overlap"]) < 1e-6
        assert abs(label_overlap(x, labels, k) - ref[k]["label_overlap"]) < 1e-6
        ours = information_imbalance(x, y, k)
        assert np.allclose(ours, ref[k]["information_imbalance"], atol=1e-6, rtol=0), (k, ours, ref[k])


# --- NumPy transcriptions of the published CKA formulas (Gram-matrix form) ---------------------

def _centre(k):
    n = len(k)
    h = np.eye(n) - np.ones((n, n)) / n
    return h @ k @ h


def _cka_gram(kx, ky):
    kx, ky = _centre(kx), _centre(ky)
    return np.sum(kx * ky) / (np.linalg.norm(kx) * np.linalg.norm(ky))


def _rbf(x, frac):
    sq = np.sum((x[:, None, :] - x[None, :, :]) ** 2, axis=-1)
    return np.exp(-sq / (2 * frac ** 2 * np.median(sq)))


def _hsic_unbiased(k, l):
    """Song et al. (2012), eq. 5: diagonals zeroed."""
    n = len(k)
    k, l = k.copy(), l.copy()
    np.fill_diagonal(k, 0)
    np.fill_diagonal(l, 0)
    one = np.ones(n)
    return (np.trace(k @ l) + (one @ k @ one) * (one @ l @ one) / ((n - 1) * (n - 2))
            - 2 / (n - 2) * one @ k @ l @ one) / (n * (n - 3))


def _debiased_cka_np(x, y):
    x, y = x - x.mean(0), y - y.mean(0)
    kx, ky = x @ x.T, y @ y.T
    return _hsic_unbiased(kx, ky) / np.sqrt(_hsic_unbiased(kx, kx) * _hsic_unbiased(ky, ky))


@pytest.mark.parametrize("data", [_random, _clustered])
def test_cka_equals_numpy_formulas(data):
    x, y, _ = data()
    assert abs(linear_cka(x, y) - _cka_gram(x @ x.T, y @ y.T)) < 1e-10
    for frac in (0.5, 0.8, 2.0):
        assert abs(rbf_cka(x, y, sigma_frac=frac) - _cka_gram(_rbf(x, frac), _rbf(y, frac))) < 1e-10
    assert abs(debiased_cka(x, y) - _debiased_cka_np(x, y)) < 1e-10
    assert abs(rbf_cka(x[:-1], y[:-1]) - _cka_gram(_rbf(x[:-1], 0.8), _rbf(y[:-1], 0.8))) < 1e-10  # odd N


def test_cka_properties():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 12))
    q, _ = np.linalg.qr(rng.normal(size=(12, 12)))
    for cka in (linear_cka, rbf_cka, debiased_cka):
        assert abs(cka(x, x) - 1) < 1e-9
        assert abs(cka(x, 3.5 * x @ q) - 1) < 1e-9  # orthogonal transform and isotropic scaling
        assert abs(cka(x, x @ q) - cka(x, x)) < 1e-9
    independent = [debiased_cka(rng.normal(size=(200, 12)), rng.normal(size=(200, 12))) for _ in range(5)]
    assert abs(np.mean(independent)) < 0.02
    assert linear_cka(rng.normal(size=(200, 12)), rng.normal(size=(200, 12))) > 0.03  # the biased one is not


def test_neighbourhood_properties_and_ties():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(100, 4))
    assert neighbourhood_overlap(x, 2 * x + 1, 7) == 1.0
    assert information_imbalance(x, x, 1) == (2 / 100, 2 / 100)
    independent = information_imbalance(x, rng.normal(size=(100, 4)), 1)
    assert all(0.7 < v < 1.3 for v in independent)
    # tied distances go to the lower index: points 1, 2, 3 all lie at distance 1 from point 0
    pts = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [5.0, 5.0]])
    assert knn_indices(pts, 2)[0].tolist() == [1, 2]
    assert knn_indices(pts, 3)[0].tolist() == [1, 2, 3]
    # the far point's nearest are the two points nearest to (5, 5), ties by index
    assert knn_indices(pts, 2)[4].tolist() == [1, 2]
    brute = np.argsort(((x[:, None] - x[None]) ** 2).sum(-1) + np.diag(np.full(100, np.inf)), axis=1, kind="stable")
    assert np.array_equal(knn_indices(x, 6).numpy(), brute[:, :6])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_rank_counting_kernel_equals_sorting(dtype):
    """The compiled CPU rank counter and the sort-based GPU path give the same ranks, ties included."""
    from tlcore.neighbours import _ranks_by_counting, _ranks_by_sorting

    g = torch.Generator().manual_seed(0)
    d = torch.randint(0, 40, (30, 300), generator=g).to(dtype)  # many exact ties
    d[torch.arange(30), torch.arange(30) + 7] = float("inf")  # self, as the callers set it
    j = torch.stack([torch.randperm(300, generator=g)[:6] for _ in range(30)])
    j[j == torch.arange(30).unsqueeze(1) + 7] = 0
    counted, by_sorting = _ranks_by_counting(d, j), _ranks_by_sorting(d, j)
    dj = d.gather(1, j).unsqueeze(2)
    brute = 1 + (d.unsqueeze(1) < dj).sum(2) + ((d.unsqueeze(1) == dj) & (torch.arange(300) < j.unsqueeze(2))).sum(2)
    assert torch.equal(counted, brute) and torch.equal(by_sorting, brute)


def test_information_imbalance_from_worker_threads():
    """Worker threads (as under a threaded executor) use the serial kernel and get the same numbers."""
    from concurrent.futures import ThreadPoolExecutor

    x, y, _ = _random(n=300)
    main = information_imbalance(x, y, 4)
    with ThreadPoolExecutor(2) as pool:
        assert list(pool.map(lambda _: information_imbalance(x, y, 4), range(3))) == [main] * 3


def test_layerwise_matrix_and_registry_orientation():
    rng = np.random.default_rng(5)
    a = [torch.tensor(rng.normal(size=(60, d))) for d in (3, 4)]
    b = [torch.tensor(rng.normal(size=(60, d))) for d in (5, 2, 3)]
    m = layerwise(a, b, "linear_cka")
    assert m.shape == (2, 3) and m[1, 2] == pytest.approx(linear_cka(a[1], b[2]))
    no = layerwise(a, b, "neighbourhood_overlap", k=4)
    assert no[0, 1] == pytest.approx(neighbourhood_overlap(a[0], b[1], 4))
    ii = layerwise(a, b, "information_imbalance", k=2)
    reverse = layerwise(a, b, "information_imbalance_reverse", k=2)
    delta = information_imbalance(a[1], b[0], 2)
    assert ii[1, 0] == pytest.approx(1 - delta[0]) and reverse[1, 0] == pytest.approx(1 - delta[1])
    assert layerwise(a, a, "debiased_cka").shape == (2, 2)
    with pytest.raises(ValueError, match="unknown similarity measure 'cca'"):
        layerwise(a, b, "cca")
    # every registered measure is a similarity: a representation is more like a rescaled copy of
    # itself than like independent noise
    x = rng.normal(size=(80, 5))
    for name in MEASURES:
        assert similarity(x, 3 * x, name, k=5) > similarity(x, rng.normal(size=(80, 5)), name, k=5) + 0.2, name
    # CKA ignores k, so a k larger than N is not an error for it
    assert similarity(x[:6], x[:6], "linear_cka", k=10) == pytest.approx(1.0)


def test_bad_inputs_are_named():
    x = np.zeros((10, 3)) + np.arange(10)[:, None]
    with pytest.raises(ValueError, match="x has 10 rows .* y has 9"):
        linear_cka(x, x[:9])
    bad = x.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="y holds 1 NaN or inf"):
        neighbourhood_overlap(x, bad, 2)
    bad[2, 1] = np.inf
    with pytest.raises(ValueError, match="NaN or inf"):
        debiased_cka(bad, x)
    with pytest.raises(ValueError, match="k=10 must be smaller than the number of points N=10"):
        information_imbalance(x, x, 10)
    # huge but finite values overflow the quick finiteness sum; they are still accepted and counted right
    huge = np.full((10, 3), 3e38, dtype=np.float32) * (np.arange(10)[:, None] + 1) / 10
    assert knn_indices(huge, 1, dtype=torch.float32).shape == (10, 1)
    huge[4, 0] = np.nan
    with pytest.raises(ValueError, match="x holds 1 NaN or inf"):
        knn_indices(huge, 1, dtype=torch.float32)
    with pytest.raises(ValueError, match="k=0"):
        neighbourhood_overlap(x, x, 0)
    with pytest.raises(ValueError, match=r"labels must have shape \(10,\)"):
        label_overlap(x, np.zeros(8), 3)


def test_chunked_paths_give_the_same_numbers(monkeypatch):
    import tlcore._distances as sim

    x, y, labels = _clustered(n=121)
    whole = (rbf_cka(x, y), neighbourhood_overlap(x, y, 5), information_imbalance(x, y, 3),
             label_overlap(x, labels, 4))
    monkeypatch.setattr(sim, "_CHUNK_ELEMENTS", {"cpu": 500, "accelerator": 500})  # a few rows at a time
    chunked = (rbf_cka(x, y), neighbourhood_overlap(x, y, 5), information_imbalance(x, y, 3),
               label_overlap(x, labels, 4))
    assert chunked[0] == pytest.approx(whole[0], abs=1e-12)
    assert chunked[1:] == whole[1:]
    assert rbf_cka(x, y) == pytest.approx(_cka_gram(_rbf(x, 0.8), _rbf(y, 0.8)), abs=1e-10)
