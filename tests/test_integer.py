from fractions import Fraction

import numpy as np
import pytest

from compresslab.integer import (INT32_MAX, OpCount, affine_params, fixed_point_multiplier, integer_network,
                                 rounding_right_shift)
from compresslab.lowrank import LowRank
from compresslab.network import Dense, Network
from compresslab.quantization import quantize_array, quantize_uniform


def small_net(seed=0, sizes=(12, 9, 7, 4), activation="relu"):
    rng = np.random.default_rng(seed)
    return Network([Dense(rng.normal(size=(a, b)) / np.sqrt(a), rng.normal(size=b) * 0.1)
                    for a, b in zip(sizes, sizes[1:])], activation=activation)


@pytest.fixture(scope="module")
def calib():
    return np.random.default_rng(1).uniform(0, 1, size=(200, 12))


# --- the integer building blocks ---------------------------------------------------------

@pytest.mark.parametrize("M", [1e-9, 3.7e-5, 0.0123, 0.5, 0.999999, 1.0, 2.5, 1234.5])
def test_fixed_point_multiplier_is_a_31_bit_mantissa(M):
    M0, shift = fixed_point_multiplier(M)
    assert 2**30 <= M0 < 2**31
    assert abs(M0 / 2**shift - M) <= M * 2.0**-31          # rounding the mantissa to 31 bits


@pytest.mark.parametrize("M", [3.7e-5, 0.0123, 0.7])
def test_rounding_right_shift_rounds_M_acc_to_nearest(M):
    M0, shift = fixed_point_multiplier(M)
    acc = np.random.default_rng(2).integers(-2**31 + 1, 2**31 - 1, size=2000, dtype=np.int64)
    got = rounding_right_shift(acc * M0, shift)
    # reference: exact rational arithmetic, halves rounded up
    exact = [int(np.floor(Fraction(int(a) * M0, 2**shift) + Fraction(1, 2))) for a in acc]
    np.testing.assert_array_equal(got, exact)


@pytest.mark.parametrize("M", [0.0, -1.0, np.inf, 2.0**31, 1e-12])
def test_fixed_point_multiplier_rejects_what_no_shift_can_hold(M):
    with pytest.raises(ValueError, match="multiplier M"):
        fixed_point_multiplier(M)


@pytest.mark.parametrize("bits", [2, 4, 8])
def test_weight_codes_are_the_librarys_affine_codes(bits):
    net = small_net()
    inet = integer_network(net, np.random.default_rng(1).uniform(size=(50, 12)), bits)
    for layer, ilayer in zip(net.layers, inet.layers):
        codes, scale, zero = quantize_uniform(layer.weight, bits, symmetric=False)
        np.testing.assert_array_equal(ilayer.weight_codes, codes)
        decoded = ilayer.weight_scale * (ilayer.weight_codes.astype(float) - ilayer.weight_zero)
        np.testing.assert_allclose(decoded, quantize_array(layer.weight, "affine", bits).decode(), rtol=1e-12)


@pytest.mark.parametrize("lo, hi", [(0.0, 1.0), (-2.0, 3.0), (0.5, 4.0), (-3.0, -1.0)])
def test_affine_params_give_real_zero_a_code(lo, hi):
    scale, zero = affine_params(lo, hi, 8)
    assert 0 <= zero <= 255
    assert scale * (0 - zero) <= min(lo, 0) + scale / 2 and scale * (255 - zero) >= max(hi, 0) - scale / 2


# --- the integer path against its float simulation ----------------------------------------

@pytest.mark.parametrize("bits", range(2, 9))
@pytest.mark.parametrize("activation", ["relu", "identity"])
def test_integer_path_equals_the_fake_quantized_float_path(calib, bits, activation):
    inet = integer_network(small_net(bits, activation=activation), calib, bits)
    X = np.random.default_rng(3).uniform(-0.2, 1.2, size=(300, 12))      # outside the calibration range too
    acc, trace = inet.forward_int(X, return_trace=True)
    logits, codes = inet.simulate(X, return_codes=True)
    # given the same input codes, each layer's codes differ by at most one step (a rounding tie) ...
    for layer, step in zip(inet.layers[:-1], trace):
        _, expected = layer.simulate(step["input_codes"])
        assert np.abs(step["output_codes"].astype(int) - expected.astype(int)).max() <= 1
    last = inet.layers[-1]
    z, _ = last.simulate(trace[-1]["input_codes"])
    np.testing.assert_allclose(inet.output_scale * acc, z, rtol=1e-12, atol=1e-12)   # exact up to float rounding
    # ... so end to end each layer adds at most one step
    n_hidden = len(inet.layers) - 1
    worst = 0
    for got, expected in zip((s["output_codes"] for s in trace[:-1]), codes):
        worst = np.abs(got.astype(int) - expected.astype(int)).max()
        assert worst <= n_hidden
    column_l1 = np.abs(last.weight_codes.astype(int) - last.weight_zero).sum(axis=0).max()
    one_step = last.input_scale * last.weight_scale * column_l1      # one input step in every feature
    assert np.abs(inet.output_scale * acc - logits).max() <= worst * one_step + 1e-12
    np.testing.assert_allclose(inet.logits(X), inet.output_scale * acc)


def test_relu_is_folded_into_the_clamp(calib):
    inet = integer_network(small_net(), calib)
    X = np.random.default_rng(4).uniform(size=(100, 12))
    _, trace = inet.forward_int(X, return_trace=True)
    for layer, step in zip(inet.layers[:-1], trace):
        assert layer.relu and layer.output_zero == 0 == layer.clamp_low     # calibrated range starts at 0
        # a negative accumulator (a negative pre-activation) becomes the code of real 0
        negative = step["accumulator"] < 0
        assert negative.any() and np.all(step["output_codes"][negative] == layer.output_zero)


def test_every_intermediate_array_is_an_integer(calib):
    inet = integer_network(small_net(), calib)
    acc, trace = inet.forward_int(np.random.default_rng(5).uniform(size=(50, 12)), return_trace=True)
    assert acc.dtype == np.int32
    expected = {"input_codes": np.uint8, "row_sums": np.int32, "accumulator": np.int32,
                "product": np.int64, "output_codes": np.uint8}
    for i, step in enumerate(trace):
        assert set(step) == set(expected) - ({"product", "output_codes"} if i == len(trace) - 1 else set())
        for name, array in step.items():
            assert array.dtype == expected[name], (i, name, array.dtype)
    for layer in inet.layers:                      # and every array the layers keep
        for name in ("weight_codes", "bias", "folded_bias"):
            assert getattr(layer, name).dtype.kind in "iu"
        assert layer.weight_codes.dtype == np.uint8 and layer.bias.dtype == np.int32


def test_accumulator_stays_within_int32(mnist_net, mnist5k):
    inet = integer_network(mnist_net, mnist5k.X_train, 8)
    X = mnist5k.X_test[:300]
    _, trace = inet.forward_int(X, return_trace=True)
    for layer, step in zip(inet.layers, trace):
        K = layer.n_inputs
        assert layer.accumulator_bound == K * 255**2 + np.abs(layer.bias.astype(np.int64)).max()
        assert layer.accumulator_bound < INT32_MAX / 40              # 784 x 255^2 = 5.1e7: 42x below 2^31
        # the same sums in int64 (no overflow possible) equal the int32 ones: nothing wrapped
        x = step["input_codes"].astype(np.int64)
        exact = (x - layer.input_zero) @ (layer.weight_codes.astype(np.int64) - layer.weight_zero) + layer.bias
        np.testing.assert_array_equal(step["accumulator"], exact)
        assert np.abs(exact).max() <= layer.accumulator_bound
        assert (x @ layer.weight_codes.astype(np.int64)).max() <= K * 255**2     # the raw partial sums


def test_a_layer_that_cannot_fit_int32_is_refused(calib):
    net = small_net()
    net.layers[0].params["bias"][:] = 1e9                          # bias / (S_w S_x) far above 2^31
    with pytest.raises(ValueError, match="int32"):
        integer_network(net, calib)


def test_mnist_accuracy_is_within_a_point_of_float(mnist_net, mnist5k):
    inet = integer_network(mnist_net, mnist5k.X_train, 8)
    int_acc = inet.score(mnist5k.X_test, mnist5k.y_test)
    float_acc = mnist_net.score(mnist5k.X_test, mnist5k.y_test)
    print(f"mnist-5k test accuracy: float {float_acc:.3f}, integer 8-bit {int_acc:.3f}")
    assert abs(int_acc - float_acc) <= 0.01
    np.testing.assert_allclose(inet.logits(mnist5k.X_test[:200]), mnist_net.logits(mnist5k.X_test[:200]),
                               atol=0.25)       # a few quantization steps of the logits (range ~ +-20)


def test_predict_is_the_argmax_of_the_int32_accumulators(calib):
    inet = integer_network(small_net(), calib)
    X = np.random.default_rng(6).uniform(size=(80, 12))
    np.testing.assert_array_equal(inet.predict(X), np.argmax(inet.logits(X), axis=1))


def test_binary_output_uses_the_sign(calib):
    rng = np.random.default_rng(7)
    net = Network([Dense(rng.normal(size=(12, 5)), rng.normal(size=5)), Dense(rng.normal(size=(5, 1)), [0.1])],
                  out_activation="logistic", classes=np.array(["no", "yes"]))
    inet = integer_network(net, calib)
    X = rng.uniform(size=(60, 12))
    expected = np.where(inet.logits(X).ravel() > 0, "yes", "no")
    np.testing.assert_array_equal(inet.predict(X), expected)


# --- operation counts: hand formulas ----------------------------------------------------------

def test_op_counts_match_hand_counts():
    # 5 -> 4 -> 3 on N = 2 samples; both weight zero points nonzero (normal weights)
    net = small_net(sizes=(5, 4, 3))
    inet = integer_network(net, np.random.default_rng(1).uniform(size=(30, 5)))
    assert all(layer.weight_zero != 0 for layer in inet.layers)
    first, last = inet.op_counts(2)
    # layer 1, K = 5, n = 4: 2*5*4 MACs; adds: row sums 2*4, their subtraction 2*4, bias 2*4, Z_out 2*4;
    # muls: Z_w * row sum 2, M0 * acc 2*4; shifts 2*4; clamps 2*4 + 2*5 (input); float: 2*2*5 (input)
    assert first == OpCount(int_macs=40, int32_adds=32, int32_muls=10, shifts=8, clamps=18, float_ops=20,
                            float_model_flops=2 * 2 * 5 * 4 + 2 * 4)
    # layer 2, K = 4, n = 3, output: 24 MACs; adds 2*3 + 2*3 + 2*3; muls 2; float: 2*3 (dequantize)
    assert last == OpCount(int_macs=24, int32_adds=18, int32_muls=2, shifts=0, clamps=0, float_ops=6,
                           float_model_flops=2 * 2 * 4 * 3 + 2 * 3)
    assert inet.op_counts(2, dequantize=False)[-1].float_ops == 0
    assert sum(c.float_model_flops for c in inet.op_counts(7)) == net.flops(7)


def test_a_zero_weight_zero_point_drops_the_row_sums():
    rng = np.random.default_rng(8)
    net = Network([Dense(np.abs(rng.normal(size=(6, 3))), np.zeros(3)), Dense(rng.normal(size=(3, 2)), np.zeros(2))])
    inet = integer_network(net, rng.uniform(size=(20, 6)))
    assert inet.layers[0].weight_zero == 0                 # non-negative weights: real 0 is code 0
    c = inet.op_counts(1)[0]
    assert c.int32_adds == 3 + 3 and c.int32_muls == 3      # bias and Z_out; M0 only
    _, trace = inet.forward_int(rng.uniform(size=(4, 6)), return_trace=True)
    assert "row_sums" not in trace[0]


def test_float_ops_are_a_tiny_share_on_mnist(mnist_net, mnist5k):
    inet = integer_network(mnist_net, mnist5k.X_train[:500])
    total = sum(inet.op_counts(1), OpCount())
    assert total.float_ops == 2 * 784 + 10                  # input quantization + dequantized logits
    assert total.float_model_flops == mnist_net.flops(1) == 532_810
    assert total.int_macs == 784 * 300 + 300 * 100 + 100 * 10
    assert "total" in inet.summary()


# --- arguments ---------------------------------------------------------------------------------

def test_bad_arguments_name_the_rule(calib):
    with pytest.raises(ValueError, match=r"bits must be in \[2, 8\]; got 9"):
        integer_network(small_net(), calib, bits=9)
    with pytest.raises(TypeError, match="bits must be an integer"):
        integer_network(small_net(), calib, bits=8.0)
    with pytest.raises(ValueError, match="activation.*tanh"):
        integer_network(small_net(activation="tanh"), calib)
    with pytest.raises(ValueError, match="12 features"):
        integer_network(small_net(), calib[:, :5])
    rng = np.random.default_rng(0)
    lowrank = Network([LowRank(rng.normal(size=(12, 2)), rng.normal(size=(2, 4)), np.zeros(4))])
    with pytest.raises(TypeError, match="to_dense"):
        integer_network(lowrank, calib)
