"""NVIDIA DeepLearningExamples' PyTorch models that timm does not build as they are, as ``module:`` factories
(``module:benchmarks/prediction/dle_models.py:se_resnext101_32x4d``) for trace_models.py. Needs timm and
torchvision (the benchmark environment), never archstat's tests.

Sources (NVIDIA/DeepLearningExamples, PyTorch/):
- ``Classification/ConvNets/image_classification/models/resnet.py``: SE-ResNeXt101-32x4d is ResNeXt101-32x4d
  (timm's ``resnext101_32x4d``: widths 128·2^i, cardinality 32, stride on the 3×3, as timm's) whose
  bottleneck multiplies its last batch norm's output by a squeeze-and-excitation gate before the residual
  add (``torch.addcmul(residual, out, se(out))``) — ``SEBottleneck`` passes ``se_squeeze=16`` to
  ``common.SqueezeAndExcitation(planes * expansion, squeeze, ReLU)``, whose 1×1 convs go C → 16 → C: a
  **fixed 16-channel** bottleneck, where timm's ``seresnext101_32x4d`` reduces to C/16.
- ``Classification/ConvNets/image_classification/models/efficientnet.py``: EfficientNet-B0/B4 are the
  paper's (timm's ``efficientnet_b0`` / ``efficientnet_b4``: the same stages, widths rounded to 8 with the
  10 % rule, depths ceiled, SE from the block's input channels × 0.25, SiLU); the WideSE variants
  (``widese_mbconv``, ``squeeze_hidden=True``) size the SE from the expanded channels × 0.25 instead.
  Default image sizes: B0 224, B4 380.
- ``Detection/SSD/ssd/model.py``: SSD300 v1.1 — torchvision's resnet50 up to layer3 with layer3's first
  block at stride 1 (38×38 features), five extra blocks (1×1 then 3×3, batch norm, ReLU; three at stride 2,
  two unpadded), 3×3 loc and conf heads of 4, 6, 6, 6, 4, 4 default boxes × 4 and × 81 classes on the
  38, 19, 10, 5, 3, 1 maps; the forward returns (N, 4, 8732) and (N, 81, 8732).
"""

from __future__ import annotations


def se_resnext101_32x4d():
    """DLE's SE-ResNeXt101-32x4d: timm's SE-ResNeXt with DLE's fixed 16-channel SE bottleneck."""
    from functools import partial

    import timm
    from timm.layers import SEModule

    return timm.create_model("seresnext101_32x4d", block_args=dict(attn_layer=partial(SEModule, rd_channels=16)))


def efficientnet_widese(variant: str = "b0"):
    """DLE's EfficientNet-WideSE-B0/B4: timm's efficientnet_b0/b4 with the SE sized from the expanded
    (depthwise) channels × 0.25 (``int``, as DLE's ``max(1, int(hidden * 0.25))``)."""
    import timm
    from timm.models._efficientnet_blocks import SqueezeExcite
    from torch import nn

    class WideSqueezeExcite(SqueezeExcite):
        # no rd_ratio argument, so timm's builder passes none: its ratio stays 0.25 of in_chs, the
        # expanded channels the block hands its SE
        def __init__(self, in_chs, act_layer=nn.ReLU, gate_layer=nn.Sigmoid, **kwargs):
            super().__init__(in_chs, rd_ratio=0.25, rd_round_fn=int, act_layer=act_layer, gate_layer=gate_layer,
                             **kwargs)

    return timm.create_model(f"efficientnet_{variant}", se_layer=WideSqueezeExcite)


def ssd300():
    """DLE's SSD300 v1.1 (ResNet-50 backbone, 81 COCO classes), without its weights."""
    import torch
    from torch import nn
    from torchvision.models import resnet50

    class SSD300(nn.Module):
        def __init__(self):
            super().__init__()
            backbone = resnet50(weights=None)
            self.feature_extractor = nn.Sequential(*list(backbone.children())[:7])
            block = self.feature_extractor[-1][0]
            block.conv1.stride, block.conv2.stride, block.downsample[0].stride = (1, 1), (1, 1), (1, 1)
            out_channels = [1024, 512, 512, 256, 256, 256]
            self.label_num = 81
            blocks = []
            for i, (cin, cout, mid) in enumerate(zip(out_channels[:-1], out_channels[1:], [256, 256, 128, 128, 128])):
                last = (nn.Conv2d(mid, cout, 3, padding=1, stride=2, bias=False) if i < 3
                        else nn.Conv2d(mid, cout, 3, bias=False))
                blocks.append(nn.Sequential(nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid),
                                            nn.ReLU(inplace=True), last, nn.BatchNorm2d(cout), nn.ReLU(inplace=True)))
            self.additional_blocks = nn.ModuleList(blocks)
            defaults = [4, 6, 6, 6, 4, 4]
            self.loc = nn.ModuleList(nn.Conv2d(oc, nd * 4, 3, padding=1) for nd, oc in zip(defaults, out_channels))
            self.conf = nn.ModuleList(nn.Conv2d(oc, nd * self.label_num, 3, padding=1)
                                      for nd, oc in zip(defaults, out_channels))

        def forward(self, x):
            x = self.feature_extractor(x)
            feed = [x]
            for block in self.additional_blocks:
                x = block(x)
                feed.append(x)
            locs = [loc(s).reshape(s.size(0), 4, -1) for s, loc in zip(feed, self.loc)]
            confs = [conf(s).reshape(s.size(0), self.label_num, -1) for s, conf in zip(feed, self.conf)]
            return torch.cat(locs, 2).contiguous(), torch.cat(confs, 2).contiguous()

    return SSD300(), ["3x300x300"]
