import jax
import jax.numpy as jnp
import pytest

from frepo_lite.models import apply_model, depth_for_resolution, init_model, make_model


def n_params(variables):
    return sum(x.size for x in jax.tree.leaves(variables["params"]))


def conv_params(cin, cout, k=3, bias=True):
    return k * k * cin * cout + (cout if bias else 0)


@pytest.mark.parametrize("res,depth", [(28, 3), (32, 3), (64, 4), (128, 5)])
def test_depth_from_resolution(res, depth):
    assert depth_for_resolution(res) == depth


def test_conv_feature_dim_and_parameter_count_at_paper_width():
    model = make_model("conv", 10, 32, width=128)
    v = init_model(model, jax.random.PRNGKey(0), (32, 32, 3))
    feat, logits, _ = apply_model(model, v, jnp.zeros((2, 32, 32, 3)))
    assert feat.shape == (2, 8192) and logits.shape == (2, 10)  # 4*4*512
    expected = conv_params(3, 128) + conv_params(128, 256) + conv_params(256, 512) + 8192 * 10 + 10
    assert n_params(v) == expected


def test_conv_pads_28px_to_32px():
    model = make_model("conv", 10, 28, width=16)
    v = init_model(model, jax.random.PRNGKey(0), (28, 28, 1))
    feat, _, _ = apply_model(model, v, jnp.zeros((1, 28, 28, 1)))
    assert feat.shape == (1, 4 * 4 * 64)


@pytest.mark.parametrize("norm,extra", [("none", 0), ("batch", 2 * (128 + 256)), ("instance", 2 * (128 + 256)),
                                        ("group", 2 * (128 + 256)), ("layer", 2 * (128 + 256))])
def test_conv_norms(norm, extra):
    model = make_model("conv", 10, 32, width=128, norm=norm)
    v = init_model(model, jax.random.PRNGKey(0), (32, 32, 3))
    base = conv_params(3, 128) + conv_params(128, 256) + conv_params(256, 512) + 8192 * 10 + 10
    assert n_params(v) == base + extra
    assert ("batch_stats" in v) == (norm == "batch")


def test_batchnorm_updates_running_stats_only_in_training():
    model = make_model("conv", 3, 16, width=4, norm="batch")
    v = init_model(model, jax.random.PRNGKey(0), (16, 16, 1))
    x = jax.random.normal(jax.random.PRNGKey(1), (8, 16, 16, 1)) * 3 + 1
    _, _, stats = apply_model(model, v, x, train=True)
    changed = jax.tree.map(lambda a, b: bool((a != b).any()), stats, v["batch_stats"])
    assert all(jax.tree.leaves(changed))
    _, _, same = apply_model(model, v, x, train=False)
    assert same is v["batch_stats"]


@pytest.mark.parametrize("arch,feat_dim,params", [
    ("dc_conv", 4 * 4 * 128, 3 * (9 * 128 * 128) - 9 * 128 * 128 + 9 * 3 * 128 + 2 * 128 * 3 + 2048 * 10 + 10),
    ("alexnet", 4 * 4 * 192, conv_params(3, 128, 5) + conv_params(128, 192, 5) + conv_params(192, 256)
     + conv_params(256, 192) + conv_params(192, 192) + 3072 * 10 + 10),
    ("vgg11", 128, conv_params(3, 128) + 7 * conv_params(128, 128) + 8 * 2 * 128 + 128 * 10 + 10),
])
def test_transfer_architectures(arch, feat_dim, params):
    model = make_model(arch, 10, 32)
    v = init_model(model, jax.random.PRNGKey(0), (32, 32, 3))
    feat, logits, _ = apply_model(model, v, jnp.zeros((2, 32, 32, 3)))
    assert feat.shape == (2, feat_dim) and logits.shape == (2, 10)
    assert n_params(v) == params


def test_resnet18():
    model = make_model("resnet18", 10, 32, norm="batch")
    v = init_model(model, jax.random.PRNGKey(0), (32, 32, 3))
    feat, _, _ = apply_model(model, v, jnp.zeros((2, 32, 32, 3)))
    assert feat.shape == (2, 4 * 4 * 512)
    # 3x3 convs without bias, 1x1 shortcuts, two BatchNorm parameters per channel, Dense head
    convs = 9 * 3 * 64 + 4 * 9 * 64 * 64
    for cin, cout in ((64, 128), (128, 256), (256, 512)):
        convs += 9 * cin * cout + 3 * 9 * cout * cout + cin * cout
    bn = 2 * (64 + 4 * 64 + sum(5 * c for c in (128, 256, 512)))
    assert n_params(v) == convs + bn + 8192 * 10 + 10


@pytest.mark.parametrize("arch,feat_dim", [("alexnet", 4 * 4 * 48), ("resnet18", 4 * 4 * 128),
                                           ("vgg11", 32), ("dc_conv", 4 * 4 * 32)])
def test_transfer_architectures_scale_with_width(arch, feat_dim):
    # width 128 is the paper's network (tests above); width 32 a quarter of its channels in every layer
    model = make_model(arch, 10, 32, width=32)
    v = init_model(model, jax.random.PRNGKey(0), (32, 32, 3))
    assert apply_model(model, v, jnp.zeros((2, 32, 32, 3)))[0].shape == (2, feat_dim)
    widths = {leaf.shape[-1] for leaf in jax.tree.leaves(v["params"]) if leaf.ndim == 4}
    assert max(widths) == {"alexnet": 64, "resnet18": 128, "vgg11": 32, "dc_conv": 32}[arch]


def test_28px_inputs_are_padded_for_other_architectures():
    model = make_model("alexnet", 10, 28)
    v = init_model(model, jax.random.PRNGKey(0), (28, 28, 1))
    assert apply_model(model, v, jnp.zeros((1, 28, 28, 1)))[0].shape == (1, 3072)


def test_bad_names():
    with pytest.raises(ValueError, match="Unknown architecture"):
        make_model("lenet", 10)
    with pytest.raises(ValueError, match="Unknown norm"):
        make_model("conv", 10, norm="weight")
