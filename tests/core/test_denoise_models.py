"""HSDT and MAN re-implementations: band-agnostic shapes, parameter counts of the papers' presets."""
from __future__ import annotations

import pytest
import torch

from hsi_qgis_plugin.models.hsdt import build_hsdt
from hsi_qgis_plugin.models.man import build_man

PAPER_COUNTS = {  # parameters of the reference implementations (seed-methods.md)
    (build_hsdt, "small"): 134_350,
    (build_hsdt, "medium"): 521_158,
    (build_man, "small"): 206_751,
    (build_man, "medium"): 463_959,
}


@pytest.mark.parametrize("builder, preset", list(PAPER_COUNTS))
def test_parameter_counts_are_within_ten_percent_of_the_papers(builder, preset):
    count = sum(p.numel() for p in builder(preset).parameters())
    assert abs(count - PAPER_COUNTS[(builder, preset)]) <= 0.10 * PAPER_COUNTS[(builder, preset)]


@pytest.mark.parametrize("builder", [build_hsdt, build_man])
@pytest.mark.parametrize("bands, rows, cols", [(31, 12, 10), (103, 8, 9), (224, 5, 6)])
def test_any_band_count_and_odd_sizes_keep_the_shape(builder, bands, rows, cols):
    torch.manual_seed(0)
    model = builder("small").eval()
    with torch.no_grad():
        model.gain.fill_(0.5)
        x = torch.rand(1, 1, bands, rows, cols)
        y = model(x)
    assert y.shape == x.shape
    assert torch.isfinite(y).all()
    assert not torch.allclose(y, x)  # the network body contributes


@pytest.mark.parametrize("builder", [build_hsdt, build_man])
def test_untrained_network_is_the_identity_and_gradients_reach_every_layer(builder):
    torch.manual_seed(0)
    model = builder("small")
    x = torch.rand(2, 1, 6, 16, 16)
    with torch.no_grad():
        assert torch.allclose(model.eval()(x), x, atol=1e-6)
    model.train()
    model.gain.data.fill_(0.1)
    model(x).square().mean().backward()
    first_conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv3d))
    assert first_conv.weight.grad is not None and first_conv.weight.grad.abs().sum() > 0
