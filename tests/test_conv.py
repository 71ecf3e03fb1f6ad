"""frepo_lite.conv: the same values and derivatives as lax's convolution, only computed differently."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from frepo_lite.conv import conv_general_dilated, shifted_copies

NHWC = ("NHWC", "HWIO", "NHWC")


def _lax(padding, strides=(1, 1)):
    return lambda x, w: lax.conv_general_dilated(x, w, strides, padding, dimension_numbers=NHWC)


def _ours(padding, strides=(1, 1)):
    return lambda x, w: conv_general_dilated(x, w, strides, padding, dimension_numbers=NHWC)


def _inputs(kernel_hw=(3, 3), cin=3, cout=5, hw=(9, 11)):
    kx, kw = jax.random.split(jax.random.PRNGKey(0))
    return jax.random.normal(kx, (4, *hw, cin)), jax.random.normal(kw, (*kernel_hw, cin, cout))


def _close(a, b, rtol=2e-5):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=rtol * float(np.abs(b).max()))


@pytest.mark.parametrize("kernel_hw,padding", [((3, 3), ((1, 1), (1, 1))), ((3, 3), ((3, 3), (0, 2))),
                                                ((5, 5), "SAME"), ((1, 1), "VALID"), ((3, 2), ((0, 0), (1, 0)))])
def test_values_and_gradients_match_lax(kernel_hw, padding):
    x, w = _inputs(kernel_hw)
    _close(_ours(padding)(x, w), _lax(padding)(x, w))
    loss = lambda conv: (lambda x, w: jnp.sum(jnp.sin(conv(x, w))))
    for got, want in zip(jax.grad(loss(_ours(padding)), (0, 1))(x, w),
                         jax.grad(loss(_lax(padding)), (0, 1))(x, w)):
        _close(got, want)


def test_forward_mode_and_second_order_match_lax():
    padding = ((1, 1), (1, 1))
    x, w = _inputs(cin=1)
    tangents = (0.3 * x, -0.2 * w)
    _close(jax.jvp(_ours(padding), (x, w), tangents)[1], jax.jvp(_lax(padding), (x, w), tangents)[1])

    def meta(conv):  # the shape of a meta-gradient: d/dx of a function of d/dw
        return lambda x: jnp.sum(jax.grad(lambda w: jnp.sum(jnp.tanh(conv(x, w)) ** 2))(w) ** 2)
    _close(jax.jit(jax.grad(meta(_ours(padding))))(x), jax.grad(meta(_lax(padding)))(x), rtol=1e-4)


def test_shifted_copies_times_kernel_is_the_convolution():
    x, w = _inputs((3, 3), cin=2, cout=4)
    padding = ((1, 1), (2, 0))
    patches = shifted_copies(x, (3, 3), padding)
    assert patches.shape == (4, 9, 11, 18)
    _close(patches @ w.reshape(-1, 4), _lax(padding)(x, w))


def test_the_matmul_route_is_taken_on_cpu_and_left_for_strides():
    x, w = _inputs()
    plain = str(jax.make_jaxpr(_ours("SAME"))(x, w))
    strided = str(jax.make_jaxpr(_ours("SAME", (2, 2)))(x, w))
    assert ("custom_jvp_call" in plain) == (jax.default_backend() == "cpu")
    assert "custom_jvp_call" not in strided
    _close(_ours("SAME", (2, 2))(x, w), _lax("SAME", (2, 2))(x, w))
