"""The random-effects statistics of meta.py against constants computed by R's metafor, no R needed.

The constants were printed by metafor 3.8.1 (R 4) with
    r <- rma(yi = yi, vi = vi, method = M, test = T, level = L,
             control = list(threshold = 1e-12, maxiter = 10000)); p <- predict(r)
    coef(r), r$se, r$ci.lb, r$ci.ub, p$pi.lb, p$pi.ub, r$tau2, r$I2, r$QE, r$QEp, weights(r)
for the small data sets below: heterogeneous (k = 4, at 95% and 90%), two studies (pedall gives no
prediction interval below k = 3, by rule, where metafor gives one) and homogeneous (k = 3, tau² on the
boundary, where Knapp-Hartung's scale factor is far below 1). They make the mutation run of
`make mutation` fast: no release is built and R is not called.
"""

from __future__ import annotations

import math

import pytest

from pedall.meta import MIN_K_PREDICTION, expit, logit, plo, random_effects

DATA = {  # name: (yi, vi, level)
    "het4": ((-0.9, -0.2, 0.4, 0.1), (0.10, 0.05, 0.20, 0.08), 95.0),
    "het4_90": ((-0.9, -0.2, 0.4, 0.1), (0.10, 0.05, 0.20, 0.08), 90.0),
    "two": ((0.3, 1.2), (0.04, 0.09), 95.0),
    "flat3": ((0.10, 0.12, 0.11), (0.10, 0.20, 0.15), 95.0),
}
FIELDS = ("estimate", "se", "ci_lower", "ci_upper", "pi_lower", "pi_upper", "tau2", "i2", "q", "q_p")
# (data, method, test): (estimate, se, CI, PI, tau², I², Q, p(Q)), (weights, percent)
METAFOR = {
    ("het4", "REML", "z"): ((-0.1853705341, 0.2547115005, -0.6845959014, 0.3138548333, -1.1194327803,
                             0.7486917122, 0.1622420912, 64.1987948552, 7.8236842105, 0.0497996905),
                            (24.7397159451, 30.5678991769, 17.9101076408, 26.7822772372)),
    ("het4", "REML", "knha"): ((-0.1853705341, 0.2643173748, -1.0265463869, 0.6558053188, -1.7185890292,
                                1.3478479610, 0.1622420912, 64.1987948552, 7.8236842105, 0.0497996905),
                               (24.7397159451, 30.5678991769, 17.9101076408, 26.7822772372)),
    ("het4", "DL", "z"): ((-0.1869453485, 0.2460410576, -0.6691769602, 0.2952862632, -1.0765453274,
                           0.7026546304, 0.1454761905, 61.6548940464, 7.8236842105, 0.0497996905),
                          (24.6607224601, 30.9685808238, 17.5225395288, 26.8481571873)),
    ("het4", "DL", "knha"): ((-0.1869453485, 0.2632562756, -1.0247443101, 0.6508536131, -1.6618300188,
                              1.2879393218, 0.1454761905, 61.6548940464, 7.8236842105, 0.0497996905),
                             (24.6607224601, 30.9685808238, 17.5225395288, 26.8481571873)),
    ("het4_90", "REML", "z"): ((-0.1853705341, 0.2547115005, -0.6043336694, 0.2335926013, -0.9692602819,
                                0.5985192137, 0.1622420912, 64.1987948552, 7.8236842105, 0.0497996905),
                               (24.7397159451, 30.5678991769, 17.9101076408, 26.7822772372)),
    ("het4_90", "REML", "knha"): ((-0.1853705341, 0.2643173748, -0.8074053791, 0.4366643110, -1.3191588207,
                                   0.9484177526, 0.1622420912, 64.1987948552, 7.8236842105, 0.0497996905),
                                  (24.7397159451, 30.5678991769, 17.9101076408, 26.7822772372)),
    ("het4_90", "DL", "z"): ((-0.1869453485, 0.2460410576, -0.5916468745, 0.2177561775, -0.9335211852,
                              0.5596304883, 0.1454761905, 61.6548940464, 7.8236842105, 0.0497996905),
                             (24.6607224601, 30.9685808238, 17.5225395288, 26.8481571873)),
    ("het4_90", "DL", "knha"): ((-0.1869453485, 0.2632562756, -0.8064830414, 0.4325923445, -1.2775967910,
                                 0.9037060941, 0.1454761905, 61.6548940464, 7.8236842105, 0.0497996905),
                                (24.6607224601, 30.9685808238, 17.5225395288, 26.8481571873)),
    ("two", "REML", "z"): ((0.7222222222, 0.4491418429, -0.1580796139, 1.6025240583, -0.7203544037,
                            2.1647988481, 0.3400000000, 83.9506172840, 6.2307692308, 0.0125549186),
                           (53.0864197531, 46.9135802469)),
    ("two", "REML", "knha"): ((0.7222222222, 0.4491418429, -4.9846659895, 6.4291104339, -8.6298240914,
                               10.0742685359, 0.3400000000, 83.9506172840, 6.2307692308, 0.0125549186),
                              (53.0864197531, 46.9135802469)),
    ("two", "DL", "z"): ((0.7222222222, 0.4491418429, -0.1580796139, 1.6025240583, -0.7203544037,
                          2.1647988481, 0.3400000000, 83.9506172840, 6.2307692308, 0.0125549186),
                         (53.0864197531, 46.9135802469)),
    ("two", "DL", "knha"): ((0.7222222222, 0.4491418429, -4.9846659895, 6.4291104339, -8.6298240914,
                             10.0742685359, 0.3400000000, 83.9506172840, 6.2307692308, 0.0125549186),
                            (53.0864197531, 46.9135802469)),
    ("flat3", "REML", "z"): ((0.1076923077, 0.2148344622, -0.3133755009, 0.5287601163, -0.3133755009,
                              0.5287601163, 0.0000000000, 0.0000000000, 0.0013846154, 0.9993079319),
                             (46.1538461538, 23.0769230769, 30.7692307692)),
    ("flat3", "REML", "knha"): ((0.1076923077, 0.0056526686, 0.0833708376, 0.1320137778, 0.0833708376,
                                 0.1320137778, 0.0000000000, 0.0000000000, 0.0013846154, 0.9993079319),
                                (46.1538461538, 23.0769230769, 30.7692307692)),
    ("flat3", "DL", "z"): ((0.1076923077, 0.2148344622, -0.3133755009, 0.5287601163, -0.3133755009,
                            0.5287601163, 0.0000000000, 0.0000000000, 0.0013846154, 0.9993079319),
                           (46.1538461538, 23.0769230769, 30.7692307692)),
    ("flat3", "DL", "knha"): ((0.1076923077, 0.0056526686, 0.0833708376, 0.1320137778, 0.0833708376,
                               0.1320137778, 0.0000000000, 0.0000000000, 0.0013846154, 0.9993079319),
                              (46.1538461538, 23.0769230769, 30.7692307692)),
}


@pytest.mark.parametrize(("name", "method", "test"), list(METAFOR))
def test_random_effects_equals_metafor(name: str, method: str, test: str) -> None:
    yi, vi, level = DATA[name]
    got = random_effects(list(yi), list(vi), method, level=level, test=test)
    want, weights = METAFOR[(name, method, test)]
    assert (got.k, got.method, got.test) == (len(yi), method, test)
    assert got.df == (len(yi) - 1 if test == "knha" else None)
    for field, w in zip(FIELDS, want, strict=True):
        if field.startswith("pi_") and len(yi) < MIN_K_PREDICTION:
            assert math.isnan(getattr(got, field)), field
            continue
        assert math.isclose(getattr(got, field), w, abs_tol=1e-8), (field, getattr(got, field), w)
    assert len(got.weights) == len(weights)
    for g, w in zip(got.weights, weights, strict=True):
        assert math.isclose(g, w, abs_tol=1e-8), (g, w)


def test_prediction_interval_needs_three_studies() -> None:
    assert MIN_K_PREDICTION == 3
    three = random_effects([0.3, 1.2, 0.5], [0.04, 0.09, 0.05])
    assert three.pi_lower < three.ci_lower < three.ci_upper < three.pi_upper


@pytest.mark.parametrize("method", ["REML", "DL"])
@pytest.mark.parametrize("test", ["z", "knha"])
def test_one_study_is_returned_as_it_is(method: str, test: str) -> None:
    one = random_effects([0.4], [0.25], method, test=test)
    # its own normal CI: 0.4 +- 1.959964 * 0.5, whatever the test; nothing pooled, nothing to test
    assert (one.k, one.estimate, one.se, one.tau2, one.weights) == (1, 0.4, 0.5, 0.0, (100.0,))
    assert (one.method, one.test, one.df) == (method, "z", None)
    assert math.isclose(one.ci_lower, 0.4 - 0.979981992270027) and math.isclose(one.ci_upper, 1.379981992270027)
    assert all(math.isnan(x) for x in (one.pi_lower, one.pi_upper, one.i2, one.q, one.q_p))


def test_unknown_method_or_test_is_refused() -> None:
    with pytest.raises(ValueError, match="method"):
        random_effects([0.1, 0.2], [0.1, 0.1], "PM")
    with pytest.raises(ValueError, match="test"):
        random_effects([0.1, 0.2], [0.1, 0.1], "REML", test="t")


def test_plo_equals_escalc() -> None:
    # escalc(measure = "PLO", xi = c(0, 12, 5, 1), ni = c(15, 12, 58, 2)): 1/2 added to both cells of a
    # zero or full cell only
    for (x, n), (y, v) in {(0, 15): (-3.433987204485, 2.064516129032), (12, 12): (3.218875824868, 2.08),
                           (5, 58): (-2.360854001118, 0.218867924528), (1, 2): (0.0, 2.0)}.items():
        got_y, got_v = plo(x, n)
        assert math.isclose(got_y, y, abs_tol=1e-11) and math.isclose(got_v, v, abs_tol=1e-11), (x, n)


def test_logit_and_expit_equal_hand_values() -> None:
    assert math.isclose(logit(0.3), -0.8472978603872037)  # ln(3/7)
    assert math.isclose(logit(0.5), 0.0, abs_tol=1e-15) and math.isclose(expit(2.0), 0.8807970779778823)
